"""The λ-sweep benchmark's table (benchmarks/bench_lambda_sweep.py)."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).parents[2] / "benchmarks" / "bench_lambda_sweep.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_lambda_sweep", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load()


def _row(variant, strength, seed, mse, residual=None):
    return {"variant": variant, "strength": strength, "seed": seed,
            "test_mse": mse, "best_epoch": 10 * (seed + 1), "epochs_run": 100,
            "stop_reason": "converged", "residual_O2z": residual}  # fmt: skip


def test_table_orders_loss_then_proximal_by_strength_then_references():
    rows = [
        _row("mlp", None, 0, 2.0), _row("prox", 100.0, 0, 0.3, 1e-6),
        _row("soft", 100.0, 0, 3.0, 1e-6), _row("soft", 0.0, 0, 2.5, 0.7),
        _row("soft", 0.0, 1, 3.5, 0.7), _row("limit", None, 0, 0.4),
    ]  # fmt: skip
    lines = bench.table(rows).splitlines()[2:]
    models = [line.split(" | ")[0] + " | " + line.split(" | ")[1] for line in lines]
    assert models == [
        "| SoftEMLP(O3, O2z), penalty in the loss | 0",
        "| SoftEMLP(O3, O2z), penalty in the loss | 100",
        "| SoftEMLP(O3, O2z), proximal penalty | 100",
        "| its λ → ∞ limit (O2z linear maps, O3 nonlinearities) | –",
        "| MLP (ch 384) | –",
    ]
    assert "| 3 ± 0.71 |" in lines[0]  # mean ± sample std over the two seeds
    assert lines[-1].endswith("| 0 (exact) |")
