"""Forecasts without training, as reference rows of motion tables.

For a motion task ($T$ past steps of $k$ points in, $T$ future steps out, flattened
time-major), two classical predictors of the future positions $\\hat p_{t}$,
$t = 1..T$, from the past $p_{-T+1}, \\dots, p_0$:

* last position: $\\hat p_t = p_0$;
* constant velocity: $\\hat p_t = p_0 + t\\,(p_0 - p_{-1})$.

Both commute with every rotation, reflection and translation, so they are exactly
equivariant baselines that a learned forecaster has to beat. On a task whose targets
are the residual to constant velocity (``mocap:residual``), each forecast enters as
its residual, so the constant-velocity row is the zero prediction and both rows
keep the values they have on the position task.
"""

from __future__ import annotations

from torch import Tensor

from ..data import Task, constant_velocity, get_task
from ._aggregate import Cell


def reference_forecasts(x: Tensor, n_steps: int) -> dict[str, Tensor]:
    """Both forecasts for flattened pasts `x` `(n, n_steps * k * 3)`; same shape."""
    n = x.shape[0]
    past = x.reshape(n, n_steps, -1, 3)
    return {
        "last-position": past[:, -1:].expand_as(past).reshape(n, -1),
        "constant-velocity": constant_velocity(past, n_steps).reshape(n, -1),
    }


def _motion_steps(task: Task) -> int | None:
    steps = getattr(task.metrics, "n_steps", None)
    same = task.x_test.shape[1] == task.y_test.shape[1]
    return steps if isinstance(steps, int) and steps >= 2 and same else None


def _as_targets(task: Task, n_steps: int) -> dict[str, Tensor]:
    """The test forecasts in the task's target terms: positions, or for
    ``target="residual"`` their residual to the constant-velocity forecast."""
    preds = reference_forecasts(task.x_test, n_steps)
    if getattr(task.metrics, "target", "positions") != "residual":
        return preds
    cv = preds["constant-velocity"]
    return {method: pred - cv for method, pred in preds.items()}


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
        for method, pred in _as_targets(task, n_steps).items():
            mean = {f"test_{k}": v for k, v in task.metrics(pred, task.y_test).items()}
            mean["test_mse"] = float((pred - task.y_test).square().mean())
            std = dict.fromkeys(mean, 0.0)
            out.append(Cell(suite, protocol, spec, method, 1, mean, std, 0, 0.0, 0,
                            None, None))  # fmt: skip
    return out
