"""Benchmark grids: suites, local and Ray executors agree, resume, failures, reports."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import softeq.auto
from softeq.bench import (
    LocalExecutor,
    RunSpec,
    aggregate,
    estimate_run_seconds,
    execute,
    load_results,
    make_executor,
    planned_action,
    run_grid,
    stale_reason,
    suite_runs,
    true_subgroup,
    typical_run_seconds,
    write_report,
)
from softeq.bench._aggregate import (
    choice_table,
    compare,
    fit_choice,
    results_table,
    spread_table,
    validation_table,
    wins_table,
)
from softeq.bench._grid_report import protocol_note
from softeq.bench._suites import CARRIER_METHODS, FIT_CARRIERS, _settings
from softeq.cli import main
from softeq.data import get_task
from softeq.nn.models import build
from softeq.train import TrainConfig, resolve_config

SUITE_OF = {"inertia:rpp": "per-inertia", "cossim:so3": "per-cossim"}

# Two cheap runs: the whole pipeline (data, model, penalties, tuner, evaluation).
TINY = dict(protocol="fast", seeds=1, epochs=2, tasks=["cossim:so3"],
            methods=["mlp", "per"])  # fmt: skip
TIMING = ("wall_s", "ms_per_step", "status", "resumed")


def _numbers(results: list[dict]) -> dict[str, dict]:
    """Results by run id, without timing (which differs between any two runs)."""
    out = {}
    for r in results:
        spec = RunSpec.from_dict(r["spec"])
        out[spec.run_id] = {k: v for k, v in r.items() if k not in TIMING}
    return out


def test_suites_list_the_papers_grid():
    runs = suite_runs("per-inertia", seeds=3)
    tasks = {r.task for r in runs}
    assert len(tasks) == 7
    # the oracle needs an exact subgroup: not on the mixed and broken settings
    per_task = {t: {r.method for r in runs if r.task == t} for t in tasks}
    assert "rpp-oracle" not in per_task["inertia:mixed"] | per_task["inertia:broken"]
    assert len(per_task["inertia:o2z"]) == 20 and "auto" in per_task["inertia:mixed"]
    assert {"auto-per", "auto-per-hidden", "auto-per-choose", "auto-per-tuners",
            "per-matched", "per-init", "mlp-orbit", "auto-soft", "auto-soft-tuners",
            "auto-carriers"} <= per_task["inertia:mixed"]  # fmt: skip
    assert len(runs) == 3 * (7 * 20 - 2)
    assert len({r.run_id for r in runs}) == len(runs)


def _parameters(model: str, spec: str, ch: int) -> int:
    task = get_task(spec)
    rep_in, rep_out = task.reps()
    # the count depends only on the largest candidate (the hidden allocation)
    widths = dict(ch=ch, allocation="per") if model == "per" else dict(ch=ch)
    net = build(model, rep_in, rep_out, task.groups[:1], **widths)
    return sum(p.numel() for p in net.parameters())


@pytest.mark.slow  # builds six PER models (~50 s)
@pytest.mark.parametrize("spec", ["inertia:rpp", "cossim:so3"])
def test_per_matched_has_about_the_mlps_parameter_count(spec):
    """`per-matched` runs PER at the width whose parameter count is nearest (as a
    ratio) the converged MLP's, width 384: within 1.35x, and nearer than the
    reference width 128."""
    (run,) = suite_runs(SUITE_OF[spec], seeds=1, tasks=[spec], methods=["per-matched"])
    ch = dict(run.overrides)["ch"]
    mlp = _parameters("mlp", spec, 384)
    ratio = _parameters("per", spec, ch) / mlp
    reference = _parameters("per", spec, 128) / mlp
    assert 1 / 1.35 <= ratio <= 1.35, ratio
    assert abs(math.log(ratio)) < abs(math.log(reference))


def test_per_orth_builds_its_nonlinearities_for_the_largest_orthogonal_candidate():
    runs = suite_runs("per-cossim", seeds=1, methods=["per-orth"])
    assert [r.task for r in runs] == _settings("cossim")
    assert all(dict(r.overrides)["nonlinear_group"] == "SO3" for r in runs)
    # on inertia the largest candidate, O3, is orthogonal: that is PER itself
    assert suite_runs("per-inertia", seeds=1, methods=["per-orth"]) == []


def test_auto_per_orth_fits_a_soft_emlp_with_the_largest_orthogonal_nonlinearities():
    runs = suite_runs("per-cossim", seeds=1, methods=["auto-per-orth"])
    assert [r.task for r in runs] == _settings("cossim")
    for r in runs:
        overrides = dict(r.overrides)
        assert overrides["fit_model"] == "per"
        assert overrides["fit_nonlinear_group"] == "SO3"
    assert suite_runs("per-inertia", seeds=1, methods=["auto-per-orth"]) == []


def test_true_subgroup_is_the_exact_axis():
    assert true_subgroup(get_task("inertia:o2y")) == "O2y"
    assert true_subgroup(get_task("inertia:o3")) == "O2x"
    assert true_subgroup(get_task("inertia:broken")) == "O2z"  # fallback: last


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(suite="nope"), "unknown suite 'nope'; expected one of: per-inertia"),
        (dict(suite="per-cossim", protocol="slow"), "unknown protocol"),
        (dict(suite="per-cossim", tasks=["inertia:o3"]), "unknown task of suite"),
        (dict(suite="per-cossim", methods=["svm"]), "unknown method of suite"),
        (dict(suite="per-cossim", seeds=0), "seeds must be"),
        (dict(suite="per-cossim", epochs=0), "epochs must be an integer >= 1"),
    ],
)
def test_bad_suite_arguments(kwargs, match):
    suite = kwargs.pop("suite")
    with pytest.raises(ValueError, match=match):
        suite_runs(suite, **kwargs)


def test_spec_round_trips():
    spec = suite_runs("per-cossim", **TINY)[1]
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    grid = run_grid(suite_runs("per-cossim", **TINY), root, LocalExecutor(2))
    return root, grid


def test_local_grid_runs_and_reports(local_grid):
    root, grid = local_grid
    assert not grid.failed and len(grid.ran) == 2
    for r in grid.ran:
        run = root / RunSpec.from_dict(r["spec"]).run_id
        assert (run / "result.json").is_file() and (run / "checkpoint.pt").is_file()
        assert r["summary"]["epochs_run"] == 2 and r["ms_per_step"] > 0
    report = write_report(root).read_text()
    assert "| MLP | " in report and "| PER (PER tuner) | " in report
    assert report.count("**") == 2  # one best cell in the single column
    assert "softeq report" in report
    # every method's report gives verdicts: one row per candidate, truth first
    assert "Symmetry-report verdicts against the truth" in report
    verdicts = report.split("Symmetry-report verdicts against the truth")[1]
    verdict_row = next(
        r for r in verdicts.splitlines() if r.startswith("| cossim:so3 | SO3 |")
    )
    assert verdict_row.startswith("| cossim:so3 | SO3 | exact | ")
    assert verdict_row.count("1/1") == 2  # MLP and PER, one seed each
    # and scored per method: one run each, three groups judged against the truth
    scored = verdicts.split("The same verdicts scored")[1].splitlines()
    assert "| MLP | 1 | " in "\n".join(scored)
    assert "| PER (PER tuner) | 1 | " in "\n".join(scored)
    csv = (root / "results.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[0].startswith("suite,protocol,task,method")
    rows = load_results(root)
    cells = aggregate(rows)
    assert {c.method for c in cells} == {"mlp", "per"}
    # each row keeps its report's breakings (they rank the groups)
    for row in rows:
        groups = {"SO3", "Scale3", "SO3xScale3"}
        assert set(row["breaking"]) == set(row["verdicts"]) == groups
        assert all(isinstance(b, float) for b in row["breaking"].values())
    # how each test MSE spreads over the test points: recorded, aggregated, shown
    for row in rows:
        assert row["test_trimmed_mse"] <= row["test_mse"]
        assert 0.01 <= row["test_worst_share"] <= 1 and row["test_median_se"] > 0
    assert all("test_trimmed_mse" in c.mean for c in cells)
    assert "Test MSE without each run's worst 1 % of test points" in report
    assert "test_trimmed_mse_mean" in csv[0]
    # a fast-protocol table says it is not converged; where runs stopped, and why
    assert "*Not converged: the fast preset" in report
    assert "| 2 (2–2) | epoch cap 1 |" in report


def test_spread_table_marks_cells_whose_runs_predate_the_measurement():
    rows = [dict(suite="s", protocol="converged", task="t", method=m, seed=k,
                 test_mse=1.0 + k, params=1, ms_per_step=1.0, epochs=10,
                 epochs_run=5, group=None)
            for m in ("mlp", "per") for k in (0, 1)]  # fmt: skip
    for k, row in enumerate(rows[:2]):  # the MLP's two seeds have the spread
        row.update(test_trimmed_mse=0.5 + k, test_median_se=0.1,
                   test_worst_share=0.25 + 0.5 * k)  # fmt: skip
    rows[2].update(test_trimmed_mse=0.5, test_median_se=0.1, test_worst_share=0.3)
    lines = spread_table(aggregate(rows)).splitlines()
    assert lines[2] == "| MLP | 1 ± 0.71 (50%) |"
    assert lines[3] == "| PER (PER tuner) | – |"  # one of its two seeds lacks it


def test_a_cell_with_fewer_seeds_says_how_many_and_is_never_bold():
    """A method run on fewer seeds than the column's most (a grid part-way) shows
    its count instead of a spread it does not have, and cannot take the bold."""

    def row(method, seed, mse, trimmed):
        return dict(suite="s", protocol="converged", task="t", method=method,
                    seed=seed, test_mse=mse, params=1, ms_per_step=1.0, epochs=10,
                    epochs_run=5, group=None, test_trimmed_mse=trimmed,
                    test_median_se=0.1, test_worst_share=0.5)  # fmt: skip

    rows = [row("mlp", k, 1.0 + k, 0.5 + k) for k in range(3)]
    rows += [row("per", 0, 0.1, 0.05)]  # best by far, but one seed
    rows += [row("rpp", k, 3.0 + k, 1.0) for k in range(2)]
    rows += [row("constant-velocity", 0, 0.5, 0.4)]  # trains nothing: one run
    cells = aggregate(rows)
    lines = results_table(cells, "test_mse").splitlines()
    assert "| Constant velocity (no training) | **0.5 ± 0** |" in lines
    lines = results_table([c for c in cells if c.method != "constant-velocity"],
                          "test_mse").splitlines()  # fmt: skip
    assert lines[2] == "| MLP | **2 ± 1** |"
    assert lines[3] == "| RPP | 3.5 ± 0.71 (2 of 3 seeds) |"
    assert lines[4] == "| PER (PER tuner) | 0.1 (1 of 3 seeds) |"
    spread = spread_table(cells).splitlines()
    assert spread[4] == "| PER (PER tuner) | 0.05 (1 of 3 seeds) (50%) |"
    # one run has no spread to compare by: PER's single seed counts nowhere
    wins = wins_table(cells, "test_mse").splitlines()
    assert wins[2] == "| PER (PER tuner) | MLP | 0 | 0 | 0 | – |"


def test_reports_say_what_each_protocol_means():
    assert protocol_note("converged") == []
    assert protocol_note("fast")[0].startswith("*Not converged: the fast preset")
    paper = protocol_note("paper")[0]
    assert "selection only after 2·adjust_at" in paper and "patience 50" in paper
    # the paper preset's rule for every model, as the note says
    for family in ("inertia:o2z", "cossim:so3"):
        for model in ("mlp", "per", "emlp"):
            config = resolve_config(
                TrainConfig(task=family, model=model, preset="paper")
            )
            assert config.select_after == 2 * config.adjust_at and config.patience == 50


def test_resume_skips_finished(local_grid, tmp_path):
    root, _ = local_grid
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("result.json")}
    again = run_grid(suite_runs("per-cossim", **TINY), root, LocalExecutor(0))
    assert len(again.skipped) == 2 and not again.ran
    assert stamps == {p: p.stat().st_mtime_ns for p in root.rglob("result.json")}


@pytest.mark.slow  # a real `softeq bench` process trains for tens of seconds
def test_killed_grid_resumes_without_redoing_finished_runs(tmp_path):
    """SIGKILL `softeq bench` once its first run has finished; re-run it."""
    out = tmp_path / "grid"
    cmd = [sys.executable, "-m", "softeq.cli", "bench", "per-cossim", "--seeds", "1",
           "--epochs", "60", "--tasks", "cossim:so3", "--methods", "mlp,per",
           "--workers", "0", "--no-report", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.rglob("result.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "first run never finished"
        time.sleep(0.05)
    assert proc.poll() is None, "the grid ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = list(out.rglob("result.json"))
    assert len(finished) == 1  # the second run (PER) was still training
    before = finished[0].read_bytes()
    assert main(cmd[3:]) == 0
    assert finished[0].read_bytes() == before
    results = {p.parent.parent.name: json.loads(p.read_text())
               for p in out.rglob("result.json")}  # fmt: skip
    assert set(results) == {"mlp", "per"}


def test_another_epoch_count_retrains_the_same_folder(tmp_path):
    """Same run folders, new protocol: the old checkpoint is not resumed."""
    first = run_grid(suite_runs("per-cossim", **{**TINY, "methods": ["mlp"]}),
                     tmp_path, LocalExecutor(0))  # fmt: skip
    longer = {**TINY, "methods": ["mlp"], "epochs": 3}
    again = run_grid(suite_runs("per-cossim", **longer), tmp_path, LocalExecutor(0))
    assert [r["status"] for r in first.results + again.results] == ["ok", "ok"]
    assert again.ran[0]["summary"]["epochs_run"] == 3
    assert not again.ran[0]["resumed"]


def test_failed_run_is_reported_and_others_finish(tmp_path, capsys):
    good = suite_runs("per-cossim", **TINY)[0]
    bad = RunSpec("per-cossim", "cossim:so3", "broken-method", 0, "fast",
                  (("epochs", 2), ("model", "svm")))  # fmt: skip
    grid = run_grid([bad, good], tmp_path, LocalExecutor(0))
    assert [r["status"] for r in grid.results] == ["failed", "ok"]
    assert "model must be one of" in grid.failed[0]["error"]
    assert "Traceback" in (tmp_path / bad.run_id / "error.txt").read_text()


def test_cli_exit_code_and_errors(tmp_path, capsys):
    assert main(["bench", "nope"]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err
    assert main(["bench", "per-cossim", "--executor", "local", "--address", "x"]) == 2
    assert main(["report", str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err


def test_a_time_limit_starts_no_run_after_it_and_cuts_none_short(tmp_path, monkeypatch):
    """Runs whose turn comes after the limit are not started (and trained by the
    next call); a run that started before it finishes."""
    import softeq.bench._worker as worker

    specs = suite_runs("per-cossim", **{**TINY, "seeds": 2, "methods": ["mlp"]})
    trained = []

    def slow_execute(spec, root):
        time.sleep(1.5)
        trained.append(spec.run_id)
        return {"spec": spec.to_dict(), "status": "ok"}

    monkeypatch.setattr(worker, "execute", slow_execute)
    grid = run_grid(specs, tmp_path, LocalExecutor(0), time_limit=1.0)
    assert trained == [specs[0].run_id] and len(grid.ran) == 1
    assert [r["spec"]["seed"] for r in grid.not_started] == [1]
    with pytest.raises(ValueError, match="time_limit must be a positive"):
        run_grid(specs, tmp_path, LocalExecutor(0), time_limit=0)


def test_cli_hours_leaves_the_rest_for_the_next_call(tmp_path, capsys):
    argv = ["bench", "per-cossim", "--protocol", "fast", "--seeds", "1", "--epochs",
            "2", "--tasks", "cossim:so3", "--methods", "mlp", "--workers", "0",
            "--out", str(tmp_path)]  # fmt: skip
    assert main([*argv, "--hours", "1e-9"]) == 0
    assert "0 trained, 0 already finished, 0 failed, 1 not started" in (
        capsys.readouterr().out
    )
    assert not (tmp_path / "REPORT.md").exists()
    assert main([*argv, "--hours", "-1"]) == 2
    assert "--hours must be positive" in capsys.readouterr().err
    assert main([*argv, "--hours", "1"]) == 0
    assert "1 trained" in capsys.readouterr().out


def test_duplicate_specs_are_refused(tmp_path):
    spec = suite_runs("per-cossim", **TINY)[0]
    with pytest.raises(ValueError, match="share run folders"):
        run_grid([spec, spec], tmp_path)


def test_compare_counts_ties_by_welch_t():
    from softeq.bench._aggregate import Cell

    def cell(mean, std):
        return Cell(
            "s", "fast", "t", "m", 3, {"x": mean}, {"x": std}, 1, 1.0, 1, None, None
        )

    assert compare(cell(1.0, 0.1), cell(2.0, 0.1), "x") == "win"
    assert compare(cell(2.0, 0.1), cell(1.0, 0.1), "x") == "loss"
    assert compare(cell(1.0, 1.0), cell(1.5, 1.0), "x") == "tie"


@pytest.mark.slow  # starting a Ray cluster alone takes tens of seconds
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_local_and_ray_identical(local_grid, tmp_path):
    pytest.importorskip("ray")
    _, local = local_grid
    grid = run_grid(suite_runs("per-cossim", **TINY), tmp_path,
                    make_executor("ray", workers=2))  # fmt: skip
    assert not grid.failed
    assert _numbers(grid.ran) == _numbers(local.ran)


def test_anchor_table_puts_ours_beside_emlps_results():
    from softeq.bench._aggregate import Cell
    from softeq.bench._anchors import anchor_table

    def cell(task, method, mean):
        stats = {"test_mse": mean}, {"test_mse": 0.01}
        return Cell("emlp-synthetic", "converged", task, method, 3, *stats,
                    1, 1.0, 1, None, None)  # fmt: skip

    table = anchor_table([cell("emlp-inertia:1000", "mlp-aug", 0.13 * 1.4),
                          cell("particle-interaction:1000", "mlp-aug", 0.0125 * 2),
                          cell("inertia:o2z", "mlp", 1.0)])  # fmt: skip
    rows = table.splitlines()[2:]
    assert len(rows) == 2  # inertia:o2z has no published number
    assert rows[0].endswith("| 0.13 | 1.40 | yes |")
    assert rows[1].endswith("| 0.0125 | 2.00 | **no** |")
    assert anchor_table([cell("inertia:o2z", "mlp", 1.0)]) == ""


def test_a_fresh_checkout_of_a_results_folder_reports_its_recorded_runs(
    local_grid, tmp_path
):
    """Run folders are not committed: a results folder holding only its
    ``runs.jsonl`` (and grid.json) reports the same runs, a run folder present
    wins over its recorded line, and a broken line is an error."""
    import shutil

    root, _ = local_grid
    full = tmp_path / "full"
    shutil.copytree(root, full)
    report = write_report(full).read_text()
    recorded = (full / "runs.jsonl").read_text()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in ("runs.jsonl", "grid.json"):
        shutil.copy(full / name, fresh / name)
    assert load_results(fresh) == load_results(full)
    # the same report but for its own path (the "softeq report DIR" line)
    assert write_report(fresh).read_text() == report.replace(str(full), str(fresh))
    assert (fresh / "runs.jsonl").read_text() == recorded

    # a run trained again (its folder back, with another score) replaces its line
    run_id = "cossim-so3/mlp/s0"
    shutil.copytree(full / run_id, fresh / run_id)
    result = json.loads((fresh / run_id / "result.json").read_text())
    result["summary"]["test_mse"] = 123.0
    (fresh / run_id / "result.json").write_text(json.dumps(result))
    rows = load_results(fresh)
    assert len(rows) == 2
    assert [r["test_mse"] for r in rows if r["method"] == "mlp"] == [123.0]

    (fresh / "runs.jsonl").write_text(recorded + "{not json\n")
    with pytest.raises(ValueError, match=r"runs.jsonl:3: not a run's row"):
        load_results(fresh)


def test_a_fresh_checkout_keeps_the_finished_runs_it_has_the_results_of(tmp_path):
    """Git keeps each run's ``result.json`` and nothing else of its folder: the
    grid keeps those runs (no checkpoint needed) and the report is the same,
    late gain (from the metrics, which git does not keep) included."""
    import shutil

    specs = suite_runs("per-cossim", **{**TINY, "epochs": 4, "methods": ["mlp"]})
    full, fresh = tmp_path / "full", tmp_path / "fresh"
    run_grid(specs, full, LocalExecutor(1))
    report = write_report(full).read_text()
    for path in full.rglob("*"):
        if path.is_file() and (path.parent == full or path.name == "result.json"):
            (fresh / path.relative_to(full)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, fresh / path.relative_to(full))
    assert not list(fresh.rglob("checkpoint.pt")) and not list(fresh.rglob("*.toml"))
    again = run_grid(specs, fresh, LocalExecutor(1))
    assert len(again.skipped) == 1 and not again.ran
    assert write_report(fresh).read_text() == report.replace(str(full), str(fresh))
    rows = load_results(fresh)
    assert rows == load_results(full) and rows[0]["late_gain"] is not None


def test_a_run_recorded_only_in_runs_jsonl_is_trained_again_and_rechecked(
    local_grid, tmp_path, capsys
):
    """A folder that kept a run only as a line of its ``runs.jsonl`` (committed
    before git kept each ``result.json``): the dry run says so, the grid trains
    the run again and compares: the same to the bit when the line holds what
    today's code gives, the numbers that differ when it does not."""
    import shutil

    root, _ = local_grid
    full = tmp_path / "full"
    shutil.copytree(root, full)
    write_report(full)
    lines = (full / "runs.jsonl").read_text().splitlines()
    mlp = next(json.loads(line) for line in lines if '"mlp"' in line)

    def fresh_copy(name: str, row_edit: dict) -> Path:
        fresh = tmp_path / name
        fresh.mkdir()
        shutil.copy(full / "grid.json", fresh / "grid.json")
        rows = [json.loads(line) for line in lines]
        for row in rows:
            if row["method"] == "mlp":
                row.update(row_edit)
        text = "".join(json.dumps(row) + "\n" for row in rows)
        (fresh / "runs.jsonl").write_text(text)
        return fresh

    argv = ["bench", "per-cossim", "--protocol", "fast", "--seeds", "1", "--epochs",
            "2", "--tasks", "cossim:so3", "--methods", "mlp", "--workers", "1",
            "--no-report", "--out"]  # fmt: skip
    same = fresh_copy("same", {})
    assert main([*argv, str(same), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "mlp: 1 train" in out
    assert (f"[recorded only in runs.jsonl, test MSE {mlp['test_mse']:.6g}: "
            "training it again re-checks that]") in out  # fmt: skip
    assert main([*argv, str(same)]) == 0
    out = capsys.readouterr().out
    assert "re-checked 1 runs the folder recorded only in runs.jsonl: 1 the same" in out
    assert "DIFFERS" not in out

    changed = fresh_copy("changed", {"test_mse": 123.0})
    specs = suite_runs("per-cossim", **{**TINY, "methods": ["mlp"]})
    grid = run_grid(specs, changed, LocalExecutor(0))
    (check,) = grid.rechecked
    assert not check.equal and check.now["test_mse"] == mlp["test_mse"]
    assert check.recorded["epochs_run"] == check.now["epochs_run"]
    assert check.describe() == (
        f"cossim-so3/mlp/s0: test_mse 123 recorded, {mlp['test_mse']:.6g} now"
    )
    # a run with its result.json is kept, not re-checked
    assert not run_grid(specs, changed, LocalExecutor(0)).rechecked
    assert main([*argv, str(changed)]) == 0
    assert "re-checked" not in capsys.readouterr().out


def test_report_of_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_results(tmp_path / "none")


def test_result_files_are_json_only(local_grid):
    root, _ = local_grid
    for path in Path(root).rglob("result.json"):
        json.loads(path.read_text())  # plain JSON, nothing to unpickle


def test_method_auto_runs_softeq_fit_and_writes_a_result(tmp_path):
    """The `auto` row: a whole `softeq.fit` per cell, its stages' run folders
    under the cell's, and a result the report reads like any other."""
    (spec,) = suite_runs("per-inertia", protocol="fast", seeds=1, epochs=2,
                         tasks=["inertia:o2z"], methods=["auto"])  # fmt: skip
    result = execute(spec, tmp_path)
    assert result["status"] == "ok", result
    summary = result["summary"]
    assert summary["chosen"] in ("none", "soft", "impose", "impose+average")
    assert [c["name"] for c in summary["plan"]] == ["O3", "O2x", "O2y", "O2z"]
    assert set(summary["groups"]["O2z"]) >= {"truth", "equivariance_error", "verdict"}
    assert summary["test_trimmed_mse"] <= summary["test_mse"]  # from Fit.test_metrics
    run = tmp_path / spec.run_id
    assert (run / "none" / "summary.json").is_file() and (run / "fit.json").is_file()
    assert execute(spec, tmp_path)["status"] == "skipped"
    report = write_report(tmp_path).read_text()
    assert "What each `softeq.fit` run chose" in report
    assert f"| inertia:o2z | {fit_choice(summary)} 1/1 |" in report
    assert "The held-out data's reading of each group" in report


def test_what_a_fit_chose_is_read_from_old_and_new_records():
    new = {"chosen": "impose", "imposed": "O2y", "hidden": True}
    assert fit_choice(new) == "impose O2y (hidden)"
    assert fit_choice({**new, "hidden": False}, True) == "impose O2y"
    old = {"chosen": "impose", "imposed": "O2y"}  # before Fit.hidden
    assert fit_choice(old, True) == "impose O2y (hidden)"
    assert fit_choice(old) == "impose O2y"
    assert fit_choice({"chosen": "none", "imposed": None}, True) == "none"
    assert fit_choice({"test_mse": 1.0}) is None  # not a fit
    rows = [
        {"task": "inertia:o2y", "method": "auto-per-choose", "choice": c}
        for c in ("impose O2y (hidden)", "soft", "impose O2y (hidden)")
    ]
    rows.append({"task": "inertia:o2y", "method": "per", "choice": None})
    table = choice_table(rows)
    assert (
        table.splitlines()[2] == "| inertia:o2y | impose O2y (hidden) 2/3, soft 1/3 |"
    )


def test_the_held_out_reading_of_each_tried_group_is_scored_against_the_truth():
    """`validation_table`: per fit method, how often validation welcomed an
    imposed group (ratio below 1) by its truth, and the exact groups the evidence
    read broken counted apart."""
    truth = {"O3": "exact", "O2z": "exact", "O2x": "broken"}
    misread = {"O3": "broken", "O2z": "broken"}
    rows = [
        {"method": "auto", "truth": truth, "verdicts": misread,
         "validation": {"O3": 5e-4, "O2z": 1.1e-3}},
        {"method": "auto", "truth": truth, "verdicts": {"O3": "exact", "O2x": "broken"},
         "validation": {"O3": 1.2, "O2x": 0.8}},
        {"method": "mlp", "truth": truth, "verdicts": {}, "validation": {}},
    ]  # fmt: skip
    lines = validation_table(rows).splitlines()
    assert len(lines) == 3  # header, rule, one fit method
    assert lines[2].endswith("| 4 | 2/3 | – | 1/1 | 2/2 |"), lines[2]


@pytest.mark.parametrize(("suite", "task", "method", "model"), [
    ("per-inertia", "inertia:o2z", "auto-per", "per"),
    ("per-cossim", "cossim:so3", "auto-per-orth", "per"),
    ("per-inertia", "inertia:broken", "auto-per-tuners", "per"),
    ("emlp-synthetic", "o5-synthetic:1000", "auto-emlp", "emlp"),
    ("motion-residual", "mocap:residual", "auto-soft", "mlp"),
    ("motion-residual", "mocap:residual", "auto-soft-tuners", "mlp"),
])  # fmt: skip
def test_auto_variants_fit_their_own_model(tmp_path, suite, task, method, model):
    """`auto-per` fits PER's SoftEMLP and `auto-emlp` imposes with EMLP layers:
    the evidence stage trains the method's model, and the result says which."""
    (spec,) = suite_runs(suite, protocol="fast", seeds=1, epochs=2, tasks=[task],
                         methods=[method])  # fmt: skip
    result = execute(spec, tmp_path)
    assert result["status"] == "ok", result
    assert result["summary"]["fit_model"] == model
    stages = {h["stage"] for h in result["summary"]["history"]}
    assert "none" in stages
    run = tmp_path / spec.run_id
    evidence = json.loads((run / "none" / "summary.json").read_text())
    assert evidence["model"] == ("mlp" if model == "emlp" else model)
    if model == "emlp":
        imposed = [s for s in stages if s.startswith("impose-")]
        config = (run / imposed[0] / "config.toml").read_text()
        assert 'model = "emlp"' in config
    if dict(spec.overrides).get("fit_soft_tuner") == "choose":  # no exact group
        assert {"soft", "soft-per"} <= stages
    if dict(spec.overrides).get("fit_soft"):  # an MLP's orbit-penalty stage
        assert "soft" in stages
    nonlinear = dict(spec.overrides).get("fit_nonlinear_group")
    config = (run / "none" / "config.toml").read_text()
    assert (f'nonlinear_group = "{nonlinear}"' in config) == (nonlinear is not None)


def test_a_raised_preset_cap_resumes_capped_runs_and_keeps_finished_ones(
    tmp_path, monkeypatch
):
    """A grid re-run after the preset's definition changed: a higher cap resumes
    the runs the old cap stopped and keeps those their rule stopped; any other
    change retrains."""
    from softeq.train import _config

    fast_rule = dict(model="mlp", ch=8, num_layers=1, select_after=1, patience=2,
                     smoothing=0, min_improvement=0.5, lr_drops=1)  # fmt: skip
    spec = RunSpec("per-cossim", "cossim:so3", "mlp", 0, "converged",
                   tuple(sorted(fast_rule.items())))  # fmt: skip
    preset = dict(_config._PRESETS[("cossim", "converged")])

    def grid(root, **changes):
        monkeypatch.setitem(_config._PRESETS, ("cossim", "converged"),
                            {**preset, **changes})  # fmt: skip
        return run_grid([spec], root, LocalExecutor(0)).results[0]

    straight = grid(tmp_path / "straight", epochs=40)
    assert straight["summary"]["stop_reason"] == "converged"

    def planned(**changes):
        monkeypatch.setitem(_config._PRESETS, ("cossim", "converged"),
                            {**preset, **changes})  # fmt: skip
        return planned_action(spec, tmp_path / "grown")

    assert planned(epochs=3) == "train"
    capped = grid(tmp_path / "grown", epochs=3)
    assert capped["summary"]["stop_reason"] == "epoch cap"
    assert planned(epochs=3) == "keep" and planned(epochs=40) == "resume"
    assert stale_reason(spec, tmp_path / "grown") == (
        "the epoch cap stopped it and the cap has been raised"
    )
    grown = grid(tmp_path / "grown", epochs=40)
    assert grown["status"] == "ok" and grown["resumed"]
    assert grown["summary"] == straight["summary"]
    result_file = tmp_path / "grown" / spec.run_id / "result.json"
    assert planned(epochs=80) == "keep"
    assert json.loads(result_file.read_text())["config"]["epochs"] == 40  # dry
    kept = grid(tmp_path / "grown", epochs=80)
    assert kept["status"] == "skipped" and kept["summary"] == straight["summary"]
    assert json.loads(result_file.read_text())["config"]["epochs"] == 80
    assert planned(epochs=80, lr=1e-3) == "train"
    other = grid(tmp_path / "grown", epochs=80, lr=1e-3)
    assert other["status"] == "ok" and not other["resumed"]


def test_a_fit_methods_result_is_checked_against_todays_preset(tmp_path, monkeypatch):
    """An ``auto`` cell stores the configs its stages' models resolve to: kept
    while the preset is unchanged or only its cap rose (the fit stopped by its
    rule), retrained when anything else changed or when the record predates it."""
    from softeq.train import _config

    (spec,) = suite_runs("per-cossim", protocol="fast", seeds=1, epochs=2,
                         tasks=["cossim:so3"], methods=["auto"])  # fmt: skip
    result = execute(spec, tmp_path)
    assert result["status"] == "ok", result
    assert set(result["config"]["stages"]) == {"mlp"}
    assert planned_action(spec, tmp_path) == "keep"
    key = ("cossim", "fast")
    preset = dict(_config._PRESETS[key])
    monkeypatch.setitem(_config._PRESETS, key, {**preset, "lr": preset["lr"] / 2})
    assert planned_action(spec, tmp_path) == "train"
    assert stale_reason(spec, tmp_path) == (
        "a stage's preset resolves to another config today"
    )
    monkeypatch.setitem(_config._PRESETS, key, preset)
    # softeq.fit's own settings count too; a record without them has the old ones
    assert planned_action(spec, tmp_path) == "keep"
    monkeypatch.setattr(softeq.auto, "HIDDEN_STRENGTH", 1e3)
    assert planned_action(spec, tmp_path) == "train"
    assert stale_reason(spec, tmp_path) == "softeq.fit's settings changed"
    monkeypatch.undo()
    stored = tmp_path / spec.run_id / "result.json"
    record = json.loads(stored.read_text())
    assert record["config"]["constants"]["hidden_strength"] == 1e4
    config = {k: v for k, v in record["config"].items() if k != "constants"}
    stored.write_text(json.dumps({**record, "config": config}))  # before constants
    assert planned_action(spec, tmp_path) == "keep"
    stored.write_text(json.dumps({**record, "config": {"epochs": 2}}))  # older record
    assert planned_action(spec, tmp_path) == "train"


def test_a_fit_cell_is_retrained_when_todays_plan_rules_impose_other_groups(
    tmp_path, monkeypatch, capsys
):
    """The plan rules are a function of the evidence the record keeps: a cell
    whose stored readings lead today's `groups_to_impose` to other groups than
    the ones it trained is retrained (and `--dry-run` says why); one they lead
    to the same groups is kept."""
    import softeq.auto

    (spec,) = suite_runs("per-cossim", protocol="fast", seeds=1, epochs=2,
                         tasks=["cossim:so3"], methods=["auto"])  # fmt: skip
    assert execute(spec, tmp_path)["status"] == "ok"
    stored = tmp_path / spec.run_id / "result.json"
    record = json.loads(stored.read_text())
    summary = record["summary"]
    imposed = {k.partition(" ")[2] for k in summary["candidates"] if "impose" in k}
    assert imposed and planned_action(spec, tmp_path) == "keep"
    other = [c["name"] for c in summary["plan"] if c["name"] not in imposed]
    monkeypatch.setattr(softeq.auto, "groups_to_impose", lambda report, groups: other)
    assert planned_action(spec, tmp_path) == "train"
    monkeypatch.setattr(softeq.auto, "groups_to_impose",
                        lambda report, groups: sorted(imposed))  # fmt: skip
    assert planned_action(spec, tmp_path) == "keep"
    # every reading broken (SO3xScale3 ⊃ SO3, Scale3; Scale3 least): rule 4 tries
    # the least broken and the largest, so a record of only the first retrains
    monkeypatch.undo()
    breaking = {"SO3xScale3": 3.0, "SO3": 2.0, "Scale3": 1.0}
    broken = [{**c, "verdict": "broken", "breaking": breaking[c["name"]],
               "breaking_low": breaking[c["name"]] - 0.1,
               "breaking_high": breaking[c["name"]] + 0.1}
              for c in summary["plan"]]  # fmt: skip

    def stored_with(*groups):
        tried = {"none": 1.0, **{f"impose {g}": 1.0 for g in groups}}
        changed = {**summary, "plan": broken, "candidates": tried}
        stored.write_text(json.dumps({**record, "summary": changed}))
        return planned_action(spec, tmp_path)

    assert stored_with("Scale3") == "train"
    assert stale_reason(spec, tmp_path) == (
        "today's plan rules impose SO3xScale3, Scale3 from its evidence; "
        "it tried Scale3"
    )
    argv = ["bench", "per-cossim", "--protocol", "fast", "--seeds", "1", "--epochs",
            "2", "--tasks", "cossim:so3", "--methods", "auto", "--dry-run",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"  train  {spec.run_id}  (~" in out and "; it tried Scale3]" in out
    assert stored_with("Scale3", "SO3xScale3") == "keep"
    assert stale_reason(spec, tmp_path) is None
    # a record of another spec in the run's folder (another protocol)
    other = {**record, "spec": {**record["spec"], "protocol": "paper"}}
    stored.write_text(json.dumps(other))
    assert planned_action(spec, tmp_path) == "train"
    assert stale_reason(spec, tmp_path) == "a run with protocol paper is stored there"


def test_the_recorded_command_names_the_folder_relative_to_the_working_directory(
    tmp_path, monkeypatch
):
    """An absolute `--out` under the working directory is recorded relative to
    it, so that REPORT.md's "Made by" works in any clone."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results" / "g"
    argv = ["bench", "per-cossim", "--protocol", "fast", "--seeds", "1", "--epochs",
            "1", "--tasks", "cossim:so3", "--methods", "mlp", "--workers", "0",
            "--no-report", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    commands = json.loads((out / "grid.json").read_text())["commands"]
    assert commands == [
        "softeq bench per-cossim --protocol fast --seeds 1 --epochs 1 "
        "--tasks cossim:so3 --methods mlp --out results/g"
    ]


def test_dry_run_says_what_a_grid_would_do_and_trains_nothing(
    local_grid, tmp_path, capsys
):
    root, _ = local_grid
    argv = ["bench", "per-cossim", "--protocol", "fast", "--seeds", "2", "--epochs",
            "2", "--tasks", "cossim:so3", "--methods", "mlp,per", "--dry-run",
            "--out", str(root)]  # fmt: skip
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "mlp: 1 keep, 1 train" in out and "  train  cossim-so3/per/s1" in out
    assert "4 runs in" in out and "2 kept, 0 resumed, 2 trained from scratch" in out
    # each run to train is timed by its task and method's finished run
    assert re.search(r"  train  cossim-so3/per/s1  \(~\d+ s\)", out)
    assert re.search(r"time: ~.* with \d+ workers?; 0 runs have none", out)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_typical_run_seconds_skips_resumed_runs_and_pools_tasks(tmp_path):
    def result(task, method, seed, wall_s, resumed=False):
        spec = {"task": task, "method": method, "seed": seed}
        path = tmp_path / task / method / f"s{seed}" / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"spec": spec, "wall_s": wall_s,
                                    "resumed": resumed}))  # fmt: skip

    result("a", "per", 0, 100.0)
    result("a", "per", 1, 300.0)
    result("a", "per", 2, 5.0, resumed=True)  # only its last part: not a run's time
    result("b", "per", 0, 1000.0)
    result("b", "mlp", 0, 10.0)
    broken = tmp_path / "c" / "mlp" / "s0" / "result.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{")  # not a result this estimate can read: ignored
    times = typical_run_seconds(tmp_path)
    assert times[("a", "per")] == 200.0 and times[("b", "per")] == 1000.0
    assert times[("*", "per")] == 300.0  # median of 100, 300, 1000
    assert times[("b", "mlp")] == times[("*", "mlp")] == 10.0
    assert typical_run_seconds(tmp_path / "empty") == {}


def test_a_runs_estimate_on_a_new_task_scales_by_the_tasks_other_methods():
    """A method with no run on a task is estimated from its runs elsewhere, times
    how much longer the methods that ran on both tasks took on this one."""
    typical = {("a", "per"): 100.0, ("a", "mlp"): 10.0, ("a", "aug"): 20.0,
               ("b", "mlp"): 40.0, ("b", "aug"): 120.0,
               ("c", "per"): 50.0, ("c", "mlp"): 5.0,
               ("*", "per"): 75.0}  # fmt: skip
    assert estimate_run_seconds(typical, "a", "per") == (100.0, "")
    # from a: median of 4x (mlp) and 6x (aug) is 5x -> 500; from c: 8x -> 400
    seconds, note = estimate_run_seconds(typical, "b", "per")
    assert seconds == 450.0 and "scaled by 2 methods run on both" in note
    # nothing ran on both: the method's median over all its tasks, unscaled
    assert estimate_run_seconds(typical, "d", "per") == (75.0, ", other tasks")
    assert estimate_run_seconds(typical, "b", "rpp") == (None, "")


def test_method_auto_carriers_keeps_one_of_its_three_fits(tmp_path):
    """`auto-carriers`: a fit per `FIT_CARRIERS` entry, each in its own folder
    under the cell's, the one best on validation kept and named."""
    (spec,) = suite_runs("per-inertia", protocol="fast", seeds=1, epochs=2,
                         tasks=["inertia:o2z"], methods=["auto-carriers"])  # fmt: skip
    result = execute(spec, tmp_path)
    assert result["status"] == "ok", result
    summary = result["summary"]
    assert (
        set(summary["carriers"])
        == set(FIT_CARRIERS)
        == set(CARRIER_METHODS)
        == {"mlp", "per-tuners", "per-hidden"}
    )
    assert summary["carrier"] == min(summary["carriers"], key=summary["carriers"].get)
    assert summary["val_mse"] == summary["carriers"][summary["carrier"]]
    assert summary["fit_model"] == "mlp,per-tuners,per-hidden"
    assert set(result["config"]["stages"]) == {"mlp", "per"}
    run = tmp_path / spec.run_id
    for name in FIT_CARRIERS:
        assert (run / name / "fit.json").is_file()
    hidden = json.loads((run / "per-hidden" / "fit.json").read_text())
    assert {h["hidden_strength"] for h in hidden["history"][1:]} == {1e4}
