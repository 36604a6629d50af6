"""Composing `auto-carriers` cells from a grid's fits (benchmarks/bench_carriers.py)."""

from __future__ import annotations

import json
import sys

from tests.bench._scripts import load_script

bench = load_script("bench_carriers")


def write(root, method, task, seed, val, test, carrier=None):
    folder = root / task.replace(":", "-") / method / f"s{seed}"
    folder.mkdir(parents=True)
    summary = {"task": task, "seed": seed, "val_mse": val, "test_mse": test,
               "carrier": carrier}  # fmt: skip
    (folder / "result.json").write_text(
        json.dumps({"status": "ok", "summary": summary})
    )


def grid(root):
    # per seed, the lowest validation MSE decides, whatever the test MSE says
    for seed, vals in enumerate([(3.0, 1.0, 2.0), (1.0, 2.0, 3.0)]):
        for (method, val), test in zip(
            zip(bench.METHODS.values(), vals, strict=True),
            (30.0, 10.0, 20.0),
            strict=True,
        ):
            write(root, method, "inertia:o2z", seed, val, test + seed)


def test_each_seed_keeps_the_carrier_best_on_validation(tmp_path):
    grid(tmp_path)
    lines, mismatches = bench.compose(bench.fit_runs(tmp_path))
    assert not mismatches
    (row,) = lines
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[0] == "inertia:o2z"
    assert cells[2] == "per-tuners, mlp"  # seed 0: val 1.0; seed 1: val 1.0
    assert cells[1] == bench.cell([10.0, 31.0])


def test_a_run_of_the_method_is_checked_against_the_composition(
    tmp_path, capsys, monkeypatch
):
    grid(tmp_path)
    write(tmp_path, "auto-carriers", "inertia:o2z", 0, 1.0, 10.0, "per-tuners")
    write(tmp_path, "auto-carriers", "inertia:o2z", 1, 1.0, 99.0, "mlp")
    monkeypatch.setattr(sys, "argv", ["bench_carriers.py", "--results", str(tmp_path)])
    assert bench.main() == 1
    err = capsys.readouterr().err
    assert "MISMATCH inertia:o2z seed 1: ran mlp 99.0, composed mlp 31.0" in err
    assert "seed 0" not in err


def test_a_task_missing_a_carrier_says_so(tmp_path):
    write(tmp_path, "auto", "inertia:o3", 0, 1.0, 1.0)
    lines, _ = bench.compose(bench.fit_runs(tmp_path))
    assert lines == ["| inertia:o3 | not every carrier ran | | | | |"]
