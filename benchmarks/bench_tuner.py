"""Cost of one `EvidenceTuner` update against one training epoch (SPEC §6: ≤ 5 %).

The update is the tuner's step, run every `tuner_every` epochs: one curvature
probe (a forward and backward pass on 64 training inputs, also timed on its own),
the exact traces $T_j$ (prior and Laplace posterior) of every layer and group, and
the fixed-point step. It reads the exact penalties, which the trainer computes
every epoch for every model with soft layers, tuned or not (`weight_residuals`,
float64; timed on its own in the last column). The epoch is one `Trainer` epoch
of PER on the inertia task. Prints a table; never asserts.

    python benchmarks/bench_tuner.py [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse

import torch

from bench_basis import timed  # the scripts' shared timer (run from benchmarks/)
from softeq.metrics import weight_residuals
from softeq.train import TrainConfig, Trainer


def penalties(trainer: Trainer) -> dict[str, float]:
    """The exact penalties, as the trainer logs them every epoch."""
    residuals = weight_residuals(trainer.model)
    return {k: float(v["penalty"]) for k, v in residuals.items()}


def evidence_update(trainer: Trainer, values: dict[str, float]) -> None:
    """The tuner's step (epoch index chosen so that it updates)."""
    tuner = trainer.tuner
    tuner.step(tuner.every - 1, values, trainer.model, train_mse=1.0,
               inputs=trainer.data["x_train"])  # fmt: skip


def probe(trainer: Trainer) -> None:
    """The update's curvature probe alone."""
    trainer.tuner.curvature(trainer.model, trainer.data["x_train"], 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--task", default="inertia:o2z")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(
        "| preset | epoch (ms) | evidence update (ms) | of which probe (ms) "
        "| update / epoch | target | exact penalties, every epoch (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for preset in ("fast", "paper"):
        config = TrainConfig(
            task=args.task, model="per", tuner="evidence", preset=preset, epochs=10
        )
        trainer = Trainer(config)
        epoch = timed(trainer._train_epoch, args.repeats)
        values = penalties(trainer)
        step = timed(lambda t=trainer, v=values: evidence_update(t, v), args.repeats)
        probing = timed(lambda t=trainer: probe(t), args.repeats)
        logged = timed(lambda t=trainer: penalties(t), args.repeats)
        print(f"| {preset} | {1e3 * epoch:.1f} | {1e3 * step:.1f} | "
              f"{1e3 * probing:.1f} | {step / epoch:.1%} | ≤ 5 % | "
              f"{1e3 * logged:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
