"""The discovery benchmark's scoring (benchmarks/bench_discovery.py)."""

import json

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
