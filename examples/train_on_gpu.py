"""Train PER on a GPU, with the model's forward and backward replayed from CUDA graphs.

Part 1 times one training step of PER's SoftEMLP (batch 500, inertia shapes, four
candidate groups) eagerly and with `softeq.train.GraphedForward`, in your own loop.
Part 2 trains PER on `inertia:o2z` with the trainer, `TrainConfig(device="cuda",
cuda_graphs=True)` (the CLI's `--device cuda --cuda-graphs`), and prints its test
MSE and symmetry verdicts. Without a CUDA device both parts run on the CPU, eagerly
(graphs need CUDA), so the script runs anywhere.

    python examples/train_on_gpu.py [--epochs 300] [--fast-dev-run]
"""

from __future__ import annotations

import argparse
import time

import torch

from softeq.groups import get
from softeq.nn.models import build
from softeq.regularizers import ProjectionPenalty
from softeq.reps import parse
from softeq.train import GraphedForward, TrainConfig, Trainer

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def time_steps(device: torch.device, graphs: bool, steps: int) -> float:
    """Milliseconds per Adam step of SoftEMLP with the four group penalties."""
    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
    gen = torch.Generator().manual_seed(0)
    model = build("per", rep_in, rep_out, CANDIDATES, generator=gen).to(device)
    x = torch.randn(500, rep_in.dim, generator=gen).to(device)
    y = torch.randn(500, rep_out.dim, generator=gen).to(device)
    forward = GraphedForward(model, x) if graphs else model
    penalty = ProjectionPenalty(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = (forward(x) - y).square().mean()
        loss = loss + sum(0.1 * r for name, r in penalty().items() if name != "O3")
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 1e3 * (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--fast-dev-run", action="store_true", help="a few steps")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    where = torch.cuda.get_device_name(device) if cuda else "the CPU (no CUDA device)"
    print(f"Training on {where}")

    steps = 3 if args.fast_dev_run else 50
    eager = time_steps(device, graphs=False, steps=steps)
    print(f"SoftEMLP + 4 penalties, batch 500: {eager:.1f} ms/step eager")
    if cuda:
        graphed = time_steps(device, graphs=True, steps=steps)
        print(f"  {graphed:.1f} ms/step with CUDA graphs ({eager / graphed:.1f}x)")
    else:
        print("  (CUDA graphs need a CUDA device)")

    config = TrainConfig(task="inertia:o2z", model="per", seed=0, device=device.type,
                         cuda_graphs=cuda, epochs=args.epochs,
                         fast_dev_run=args.fast_dev_run)  # fmt: skip
    summary = Trainer(config, None).fit()
    print(f"PER on inertia:o2z: test MSE {summary['test_mse']:.4g} after "
          f"{summary['epochs_run']} epochs")  # fmt: skip
    for name, group in summary["groups"].items():
        print(f"  {name:<4} truth {group['truth']:<7} verdict {group['verdict']}")


if __name__ == "__main__":
    main()
