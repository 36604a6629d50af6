"""The discovery benchmark's scoring (benchmarks/bench_discovery.py)."""

import json

from softeq.metrics import pooled_score_cells

from ._scripts import load_script

bench = load_script("bench_discovery")


def _group(name: str, truth: str, verdict: str, rank: int) -> dict:
    return {"name": name, "truth": truth, "verdict": verdict, "rank": rank}


def _row(task: str, method: str, groups: list[dict]) -> dict:
    return {"task": task, "method": method, "seed": 0, "groups": groups,
            **bench.score(groups)}  # fmt: skip


def test_score_counts_wrong_verdicts_apart_from_undetermined_ones():
    groups = [
        _group("O2z", "exact", "exact", 1),
        _group("O2x", "approximate", "undetermined", 2),
        _group("O2y", "broken", "exact", 3),  # a wrong "exact"
        _group("O3", "approximate", "broken", 4),  # a wrong "broken"
    ]
    s = bench.score(groups)
    assert (s["judged"], s["right"], s["undetermined"]) == (4, 1, 1)
    assert (s["wrong_exact"], s["wrong_broken"]) == (1, 1)
    # by truth, exact < approximate < broken: the broken O2y ranks above the
    # approximate O3
    assert s["ranking_right"] is False
    fixed = [dict(g, rank={"O2z": 1, "O2x": 2, "O3": 3, "O2y": 4}[g["name"]])
             for g in groups]  # fmt: skip
    assert bench.score(fixed)["ranking_right"] is True


def test_groups_of_unknown_truth_are_not_scored():
    s = bench.score([_group("O3", "unknown", "exact", 1)])
    assert s["judged"] == 0 and s["wrong_exact"] == 0 and s["ranking_right"]


def test_table_pools_per_method_and_per_task():
    rows = [
        _row("inertia:o2z", "per", [_group("O2z", "exact", "exact", 1),
                                    _group("O3", "broken", "broken", 2)]),
        _row("inertia:mixed", "per", [_group("O3", "approximate", "undetermined", 1),
                                      _group("O2z", "approximate", "approximate", 2)]),
        _row("inertia:o2z", "mlp-aug", [_group("O2z", "exact", "undetermined", 1),
                                        _group("O3", "broken", "exact", 2)]),
    ]  # fmt: skip
    lines = bench.table(rows).splitlines()
    # runs | decided | right (of decided) | wrong exact | wrong broken | ranking
    assert lines[2] == "| per | 2 | 75% | 100% | 0 | 0 | 100% |"
    assert lines[3] == "| mlp-aug | 1 | 50% | 0% | 1 | 0 | 100% |"
    assert "| per / inertia:mixed | 1 | 50% | 100% | 0 | 0 | 100% |" in lines
    confusion = bench.confusion([rows[2]], "mlp-aug").splitlines()
    assert confusion[0].endswith("| exact | approximate | broken | undetermined |")
    assert confusion[2] == "| exact | 0 | 0 | 0 | 1 |"
    assert confusion[4] == "| broken | 1 | 0 | 0 | 0 |"


def test_run_dirs_finds_finished_runs_only(tmp_path):
    done = tmp_path / "inertia-o2z" / "per" / "s0"
    half = tmp_path / "inertia-o2z" / "per" / "s1"
    for d in (done, half):
        d.mkdir(parents=True)
        (d / "checkpoint.pt").write_bytes(b"")
    (done / "summary.json").write_text(json.dumps({}))
    assert bench.run_dirs([tmp_path]) == [str(done)]


def _grid_row(truth: dict, verdicts: dict, breaking: dict | None) -> dict:
    row = {"task": "inertia:o2z", "method": "per", "seed": 1, "test_mse": 0.3,
           "truth": truth, "verdicts": verdicts}  # fmt: skip
    return row if breaking is None else {**row, "breaking": breaking}


def test_a_recorded_run_is_ranked_by_its_breakings():
    truth = {"O3": "broken", "O2x": "broken", "O2z": "exact"}
    verdicts = {"O3": "broken", "O2x": "undetermined", "O2z": "exact"}
    # O2x breaks less than O3 but more than the exact O2z: ranks 3, 2, 1
    breaking = {"O3": 0.9, "O2x": 0.3, "O2z": -0.001}
    row = bench.recorded(_grid_row(truth, verdicts, breaking), "grid")
    ranks = {g["name"]: g["rank"] for g in row["groups"]}
    assert ranks == {"O3": 3, "O2x": 2, "O2z": 1}
    assert (row["judged"], row["right"], row["undetermined"]) == (3, 2, 1)
    assert row["ranking_right"] is True and row["source"] == "grid"
    # the exact group breaking most puts it below a broken one
    breaking = {"O3": 0.9, "O2x": 0.3, "O2z": 0.5}
    wrong = bench.recorded(_grid_row(truth, verdicts, breaking), "grid")
    assert wrong["ranking_right"] is False


def test_a_recorded_run_without_breakings_is_scored_without_a_ranking():
    truth = {"O3": "broken", "O2z": "exact"}
    row = bench.recorded(_grid_row(truth, {"O3": "exact", "O2z": "exact"}, None), "g")
    assert row["wrong_exact"] == 1 and row["ranking_right"] is None
    ranked = bench.recorded(_grid_row(truth, {"O3": "broken", "O2z": "exact"},
                                      {"O3": 1.0, "O2z": 0.0}), "g")  # fmt: skip
    # the ranking cell counts the runs that have ranks, and says how many
    assert pooled_score_cells([row, ranked])[-1] == "100% (of 1)"
    assert pooled_score_cells([row])[-1] == "–"
    assert pooled_score_cells([ranked, ranked])[-1] == "100%"
    # a run whose report judged nothing (no verdicts) is left out
    assert bench.recorded(_grid_row(truth, {}, None), "g") is None


def test_recorded_rows_reads_a_grid_folder(tmp_path):
    line = {"suite": "per-inertia", "task": "inertia:o2z", "method": "mlp", "seed": 0,
            "protocol": "converged", "test_mse": 2.0,
            "truth": {"O3": "broken", "O2z": "exact"},
            "verdicts": {"O3": "broken", "O2z": "exact"},
            "breaking": {"O3": 0.8, "O2z": 0.0}}  # fmt: skip
    (tmp_path / "runs.jsonl").write_text(json.dumps(line) + "\n")
    (row,) = bench.recorded_rows([tmp_path])
    assert (row["method"], row["right"], row["ranking_right"]) == ("mlp", 2, True)
