"""The trainer reports a task's own metrics (ADE/FDE of motion tasks) and presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softeq.cli._train import print_summary
from softeq.data import motion_task
from softeq.metrics import SPREAD_FIELDS
from softeq.train import TrainConfig, Trainer
from softeq.train._config import resolve_config


def tiny_motion_task():
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(40, 1, 2, 3, generator=gen) * 3
    velocity = torch.randn(40, 1, 2, 3, generator=gen)
    track = (start + torch.arange(12.0)[None, :, None, None] * velocity).numpy()
    split = np.repeat([0, 1, 2], [24, 8, 8])
    return motion_task({"past": track[:, :6], "future": track[:, 6:], "split": split,
                        "units": "m", "dt": 0.1, "vertical_axis": 2})  # fmt: skip


def test_summary_and_printout_carry_test_ade_and_fde(capsys):
    task = tiny_motion_task()
    config = TrainConfig(task="mocap", model="mlp", fast_dev_run=True, ch=16)
    summary = Trainer(config, None, task=task).evaluate()
    assert summary["test_ade"] > 0 and summary["test_fde"] > 0
    print_summary(summary, None)
    out = capsys.readouterr().out
    assert "test_ade" in out and "test_trimmed_mse" not in out  # said in words
    assert "test MSE without the worst 1 % of test points" in out


def test_tasks_without_metrics_add_nothing():
    config = TrainConfig(task="inertia:o2z", model="mlp", fast_dev_run=True, ch=16)
    summary = Trainer(config, None).evaluate()
    spread = {f"test_{f}" for f in SPREAD_FIELDS}  # every task has these
    assert {k for k in summary if k.startswith("test_")} == {"test_mse", *spread}


@pytest.mark.parametrize(
    ("task", "preset", "expected"),
    [
        ("mocap", "paper", dict(epochs=500, batch_size=128, lr=2e-4, adjust_power=5.0,
                                num_layers=3)),
        ("orbits:rotated", "fast", dict(epochs=300, num_layers=1, adjust_at=75)),
    ],
)  # fmt: skip
def test_motion_presets(task, preset, expected):
    config = resolve_config(TrainConfig(task=task, model="per", preset=preset))
    assert {k: getattr(config, k) for k in expected} == expected
