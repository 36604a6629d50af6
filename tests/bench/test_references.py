"""Reference forecasts of motion tables: exact on the motions they model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softeq.bench._aggregate import Cell
from softeq.bench._references import reference_cells, reference_forecasts
from softeq.data import MotionData, motion_task


def _straight_lines(n: int, k: int, seed: int = 0) -> MotionData:
    """Points moving at constant velocity: 6 past then 6 future steps."""
    rng = np.random.default_rng(seed)
    start = rng.normal(size=(n, 1, k, 3))
    velocity = rng.normal(size=(n, 1, k, 3))
    t = np.arange(12).reshape(1, 12, 1, 1)
    track = (start + t * velocity).astype(np.float32)
    split = np.repeat(np.array([0, 1, 2], dtype=np.int8), n // 3)
    return MotionData(track[:, :6], track[:, 6:], split, "m", 0.2, 2)


def test_constant_velocity_is_exact_on_straight_lines():
    task = motion_task(_straight_lines(30, 2), name="lines")
    preds = reference_forecasts(task.x_test, 6)
    metrics = task.metrics(preds["constant-velocity"], task.y_test)
    assert metrics["ade"] == pytest.approx(0.0, abs=1e-5)
    assert task.metrics(preds["last-position"], task.y_test)["ade"] > 0.1


def test_reference_forecasts_commute_with_rotations(generator):
    x = torch.randn(5, 6 * 2 * 3, generator=generator, dtype=torch.float64)
    Q = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))[0]

    def rotate(v):
        return (v.view(5, -1, 3) @ Q.T).reshape(5, -1)

    for name, pred in reference_forecasts(x, 6).items():
        assert torch.allclose(reference_forecasts(rotate(x), 6)[name], rotate(pred))


def test_reference_cells_only_for_motion_tasks():
    cell = Cell("s", "fast", "inertia:o3", "mlp", 1, {"test_mse": 1.0},
                {"test_mse": 0.0}, 1, 1.0, 1, None, None)  # fmt: skip
    assert reference_cells([cell]) == []
    motion = Cell("motion", "fast", "mocap", "per", 3, {"test_ade": 0.1},
                  {"test_ade": 0.0}, 1, 1.0, 1, None, None)  # fmt: skip
    refs = {c.method: c for c in reference_cells([motion])}
    assert set(refs) == {"last-position", "constant-velocity"}
    assert refs["constant-velocity"].mean["test_ade"] > 0


def test_reference_cells_of_a_residual_task_match_the_position_task():
    def cells(spec):
        cell = Cell("motion", "fast", spec, "per", 3, {"test_ade": 0.1},
                    {"test_ade": 0.0}, 1, 1.0, 1, None, None)  # fmt: skip
        return {c.method: c.mean for c in reference_cells([cell])}

    positions, residual = cells("mocap"), cells("mocap:residual")
    for method, mean in positions.items():
        for key, value in mean.items():
            assert residual[method][key] == pytest.approx(value, rel=1e-5), key
