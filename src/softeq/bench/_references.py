"""Forecasts without training, as reference rows of motion tables.

For a motion task ($T$ past steps of $k$ points in, $T$ future steps out, flattened
time-major), two classical predictors of the future positions $\\hat p_{t}$,
$t = 1..T$, from the past $p_{-T+1}, \\dots, p_0$:

* last position: $\\hat p_t = p_0$;
* constant velocity: $\\hat p_t = p_0 + t\\,(p_0 - p_{-1})$.

Both commute with every rotation, reflection and translation, so they are exactly
equivariant baselines that a learned forecaster has to beat.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import Task, get_task
from ._aggregate import Cell

#: Reference method name -> table label.
REFERENCES = {
    "last-position": "Last position (no training)",
    "constant-velocity": "Constant velocity (no training)",
}


def reference_forecasts(x: Tensor, n_steps: int) -> dict[str, Tensor]:
    """Both forecasts for flattened pasts `x` `(n, n_steps * k * 3)`; same shape."""
    n = x.shape[0]
    past = x.reshape(n, n_steps, -1, 3)
    last, step = past[:, -1:], past[:, -1:] - past[:, -2:-1]
    ahead = torch.arange(1, n_steps + 1, dtype=x.dtype).view(1, n_steps, 1, 1)
    return {
        "last-position": last.expand_as(past).reshape(n, -1),
        "constant-velocity": (last + ahead * step).reshape(n, -1),
    }


def _motion_steps(task: Task) -> int | None:
    steps = getattr(task.metrics, "n_steps", None)
    same = task.x_test.shape[1] == task.y_test.shape[1]
    return steps if isinstance(steps, int) and steps >= 2 and same else None


def reference_cells(cells: list[Cell]) -> list[Cell]:
    """Reference cells for every motion task among `cells` (ADE/FDE/MSE on the
    test split, one deterministic value: std 0)."""
    out = []
    keys = dict.fromkeys((c.suite, c.protocol, c.task) for c in cells
                         if "test_ade" in c.mean)  # fmt: skip
    for suite, protocol, spec in keys:
        task = get_task(spec)
        n_steps = _motion_steps(task)
        if n_steps is None:
            continue
        for method, pred in reference_forecasts(task.x_test, n_steps).items():
            mean = {f"test_{k}": v for k, v in task.metrics(pred, task.y_test).items()}
            mean["test_mse"] = float((pred - task.y_test).square().mean())
            std = dict.fromkeys(mean, 0.0)
            out.append(Cell(suite, protocol, spec, method, 1, mean, std, 0, 0.0, 0,
                            None, None))  # fmt: skip
    return out
