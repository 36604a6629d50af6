"""Composing `auto-soft-tuners` cells from `auto-soft` and `mlp-orbit` runs
(benchmarks/bench_soft_tuners.py)."""

from __future__ import annotations

import json
import sys

from tests.bench._scripts import load_script

bench = load_script("bench_soft_tuners")


def write(root, method, task, seed, val, test, **fit):
    folder = root / task.replace(":", "-") / method / f"s{seed}"
    folder.mkdir(parents=True)
    summary = {"task": task, "seed": seed, "val_mse": val, "test_mse": test, **fit}
    (folder / "result.json").write_text(
        json.dumps({"status": "ok", "summary": summary})
    )


def fit(stages, verdicts, chosen="impose O2z"):
    """An `auto-soft` summary's fit fields: its stages, plan verdicts, choice."""
    plan = [{"name": f"G{k}", "verdict": v} for k, v in enumerate(verdicts)]
    return {"history": [{"stage": s} for s in stages], "chosen": chosen, "plan": plan}


def test_validation_keeps_the_orbit_mlp_only_where_it_is_better(tmp_path):
    ran = fit(["none", "soft", "impose-O2z"], ["approximate", "broken"])
    write(tmp_path, "auto-soft", "mocap", 0, 2.0, 20.0, **ran)
    write(tmp_path, "mlp-orbit", "mocap", 0, 1.0, 10.0)
    write(tmp_path, "auto-soft", "mocap", 1, 1.0, 11.0, **ran)
    write(tmp_path, "mlp-orbit", "mocap", 1, 3.0, 30.0)
    lines, mismatches, checked = bench.compose(bench.load_runs(
        tmp_path, ("auto-soft", "mlp-orbit", "auto-soft-tuners")))  # fmt: skip
    (row,) = lines
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[:3] == ["mocap", bench.cell([10.0, 11.0]), "soft-per, impose O2z"]
    assert (mismatches, checked) == ([], 0)


def test_an_exact_group_imposed_skips_pers_stage_but_all_broken_does_not():
    orbit = {"val_mse": 0.5, "test_mse": 5.0}
    # a group reads exact and the breaking stage did not run: it is imposed
    exact = {**fit(["none", "impose-O2z"], ["exact", "broken"]), "val_mse": 1.0,
             "test_mse": 9.0}  # fmt: skip
    assert bench.composed(exact, orbit) == ("impose O2z", 1.0, 9.0)
    # every group broken: the breaking stage is skipped, PER's tuner still runs
    broken = {**fit(["none", "impose-O3"], ["broken", "broken"]), "val_mse": 1.0,
              "test_mse": 9.0}  # fmt: skip
    assert bench.composed(broken, orbit) == ("soft-per", 0.5, 5.0)
    # the what-if: soft-per trained even where an exact group is imposed
    assert bench.composed(exact, orbit, always=True) == ("soft-per", 0.5, 5.0)
    # motion tasks are scored by ADE, as their tables
    assert bench.composed(broken, {**orbit, "test_ade": 0.7})[2] == 0.7


def test_a_trained_run_is_checked_against_the_composition(
    tmp_path, capsys, monkeypatch
):
    ran = fit(["none", "soft"], ["approximate"], chosen="soft")
    for seed, test in enumerate((1.0, 2.0)):
        write(tmp_path, "auto-soft", "cossim:so3", seed, 2.0, 20.0, **ran)
        write(tmp_path, "mlp-orbit", "cossim:so3", seed, 1.0, test)
    trained = fit([], [], chosen="soft-per")
    write(tmp_path, "auto-soft-tuners", "cossim:so3", 0, 1.0, 1.0, **trained)
    write(tmp_path, "auto-soft-tuners", "cossim:so3", 1, 1.0, 99.0, **trained)
    argv = ["bench_soft_tuners.py", "--results", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    assert bench.main() == 1
    captured = capsys.readouterr()
    assert "checked against 2 trained auto-soft-tuners runs: 1 the same" in captured.out
    assert "MISMATCH cossim:so3 seed 1: ran ('soft-per', 1.0, 99.0)" in captured.err
    assert "seed 0" not in captured.err


def test_a_task_without_every_orbit_run_it_needs_says_so(tmp_path):
    write(tmp_path, "auto-soft", "orbits", 0, 1.0, 1.0, **fit(["none"], ["broken"]))
    lines, _, _ = bench.compose(bench.load_runs(tmp_path, ("auto-soft", "mlp-orbit")))
    assert lines == [
        "| orbits | `mlp-orbit` has not run every seed it needs | | 1 | – |"
    ]


def test_where_an_exact_group_is_imposed_no_orbit_run_is_needed(tmp_path):
    ran = fit(["none", "impose-O2z"], ["exact", "broken"])
    write(tmp_path, "auto-soft", "inertia:o2z", 0, 1.0, 3.0, **ran)
    lines, _, _ = bench.compose(bench.load_runs(tmp_path, ("auto-soft", "mlp-orbit")))
    assert lines == ["| inertia:o2z | 3 | impose O2z | 3 | – |"]
