"""Forecast trajectories of your own and find out which symmetries they have.

Data: 600 windows of 12 frames (0.1 s apart) of 3 balls thrown with random velocities,
falling under gravity along -z with quadratic air drag. Drag is isotropic and gravity
points along z, so the motion is exactly O(2)-equivariant about the z axis and breaks
O(3) and the O(2)'s about x and y. The windows are saved as a motion `.npz`
(`softeq.data.MotionData`); `softeq train --task motion:PATH.npz:residual` or, as here,
`TrainConfig(task="motion:PATH.npz:residual")` trains on it: 6 past frames -> 6
future frames, targets the residual to constant velocity, ADE/FDE in metres.

Prints the test ADE of PER and of constant velocity, then each candidate group's
held-out equivariance error, smallest (most symmetric) first.

    python examples/own_motion_data.py [--epochs 150] [--fast-dev-run]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from softeq.data import MotionData, get_task
from softeq.train import TrainConfig, Trainer

GRAVITY, DRAG, DT = 9.81, 0.05, 0.1


def throws(n: int, n_balls: int, rng: np.random.Generator) -> np.ndarray:
    """Positions `(n, 12, n_balls, 3)` of balls under gravity and quadratic drag
    (semi-implicit Euler, 10 sub-steps per frame)."""
    pos = rng.normal(scale=2.0, size=(n, n_balls, 3))
    vel = rng.normal(scale=4.0, size=(n, n_balls, 3)) + [0.0, 0.0, 6.0]
    frames, sub = [], 10
    for _ in range(12):
        frames.append(pos.copy())
        for _ in range(sub):
            speed = np.linalg.norm(vel, axis=-1, keepdims=True)
            vel = vel + DT / sub * (-DRAG * speed * vel - [0.0, 0.0, GRAVITY])
            pos = pos + DT / sub * vel
    return np.stack(frames, axis=1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--fast-dev-run", action="store_true")
    args = parser.parse_args()
    track = throws(600, 3, np.random.default_rng(0))
    split = np.repeat([0, 1, 2], [400, 100, 100])
    data = MotionData(past=track[:, :6], future=track[:, 6:], split=split, units="m",
                      dt=DT, vertical_axis=2)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "throws.npz"
        data.save(path)
        spec = f"motion:{path}:residual"
        epochs = 2 if args.fast_dev_run else args.epochs
        config = TrainConfig(task=spec, model="per", epochs=epochs, seed=0)
        summary = Trainer(config).fit()
        task = get_task(spec)
    cv = task.metrics(torch.zeros_like(task.y_test), task.y_test)["ade"]
    print(f"test ADE: PER {summary['test_ade']:.4f} m, constant velocity {cv:.4f} m")
    groups = sorted(summary["groups"].items(), key=lambda g: g[1]["equivariance_error"])
    for name, entry in groups:
        print(f"  {name:4s} equivariance error {entry['equivariance_error']:.4f}")
    print(f"Most symmetric: {groups[0][0]}")


if __name__ == "__main__":
    main()
