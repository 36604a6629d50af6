"""The discovery benchmark's agreement accounting (benchmarks/bench_discovery.py)."""

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).parents[2] / "benchmarks" / "bench_discovery.py"
_SPEC = importlib.util.spec_from_file_location("bench_discovery", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def _group(name: str, truth: str, verdict: str, rank: int) -> dict:
    return {"name": name, "truth": truth, "verdict": verdict, "rank": rank}


def _run(task: str, groups: list[dict], mse: float = 1.0) -> dict:
    ranking, verdicts = bench.agreement({"groups": groups})
    return {"task": task, "tuner": "per", "seed": 0, "test_mse": mse,
            "ranking_agrees": ranking, "verdict_agreement": verdicts,
            "report": groups}  # fmt: skip


def test_agreement_ranking_and_verdicts():
    groups = [
        _group("O2z", "exact", "exact", 1),
        _group("O2x", "broken", "approximate", 2),
        _group("O3", "broken", "broken", 3),
    ]
    assert bench.agreement({"groups": groups}) == (True, pytest.approx(2 / 3))
    swapped = [dict(g, rank=4 - g["rank"]) for g in groups]
    assert bench.agreement({"groups": swapped})[0] is False


def test_all_approximate_is_not_judged():
    """A setting with no exact/broken group has nothing to judge: "–", not 0 %."""
    groups = [_group("O2x", "approximate", "broken", 1)]
    assert bench.agreement({"groups": groups}) == (True, None)
    rows = [
        _run("inertia:mixed", groups),
        _run("inertia:o2z", [_group("O2z", "exact", "exact", 1),
                             _group("O3", "broken", "exact", 2)]),
    ]  # fmt: skip
    assert bench.judged_verdicts(rows) == (1, 2)
    text = bench.table(rows, ["per"])
    mixed = next(line for line in text.splitlines() if "inertia:mixed" in line)
    assert mixed.endswith("| – |")
    assert "verdict agreement 1/2 exact/broken groups (50%)" in text


def test_confusion_counts_truth_against_verdict():
    rows = [
        _run("inertia:o2z", [_group("O2z", "exact", "exact", 1),
                             _group("O2x", "broken", "approximate", 2),
                             _group("O3", "broken", "broken", 3)]),
    ]  # fmt: skip
    lines = bench.confusion(rows, "per").splitlines()
    assert lines[2] == "| exact | 1 | 0 | 0 |"
    assert lines[4] == "| broken | 0 | 1 | 1 |"


def test_averaging_gain_only_where_the_top_group_is_exact():
    top = dict(_group("O2z", "exact", "exact", 1), averaged_mse=0.75)
    rows = [
        _run("inertia:o2z", [top, _group("O3", "broken", "broken", 2)], mse=1.0),
        _run("inertia:o2z", [_group("O3", "broken", "broken", 1)], mse=1.0),
    ]
    assert bench.averaging_gain(rows) == "-25% (1/2)"
    assert bench.averaging_gain(rows[1:]) == "–"
