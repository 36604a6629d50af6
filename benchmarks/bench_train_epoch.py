"""The optimisation steps of one training epoch, for any model and task, under a
preset (default: ``converged``, what `softeq bench` trains).

Times `Trainer._train_epoch` (every batch of the training set: forward, loss,
penalties, backward, Adam), one warm-up epoch and then the median of `--epochs`,
on one thread unless told otherwise. Validation, selection and checkpoints are
not part of it (`bench_epoch.py` times the whole epoch of PER's protocol). It
answers "what does a baseline's step cost": e.g. the orbit-penalised MLP
(`mlp-orbit`, 16 transformed copies of every batch) against the plain MLP.
Never asserts.

    python benchmarks/bench_train_epoch.py [--epochs 15] [--threads 1]
        [--preset converged] [--runs mocap:mlp-orbit mocap:mlp-aug ...]

Compare two versions of the code by running it under each (e.g.
``PYTHONPATH=<other checkout>/src``), alternating, on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from softeq.train import TrainConfig, Trainer

DEFAULT_RUNS = (
    "mocap:mlp",
    "mocap:mlp-aug",
    "mocap:mlp-orbit",
    "inertia:o2z:mlp-orbit",
)


def epoch_ms(task: str, model: str, preset: str, epochs: int) -> tuple[float, int]:
    """Median ms of one epoch's optimisation steps, and the steps per epoch."""
    config = TrainConfig(task=task, model=model, preset=preset, seed=0)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config, out=out)
        trainer._train_epoch()  # warm-up: caches, allocator, group tables
        times = []
        for _ in range(epochs):
            start = time.perf_counter()
            trainer._train_epoch()
            times.append(time.perf_counter() - start)
        n = len(trainer.data["x_train"])
        steps = -(-n // trainer.config.batch_size)
    return 1e3 * statistics.median(times), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--preset", default="converged")
    parser.add_argument(
        "--runs", nargs="+", default=list(DEFAULT_RUNS),
        help="task:model pairs (the model after the last colon)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}; preset {args.preset}; {args.threads} thread(s)")
    print("| task | model | steps / epoch | epoch (ms) | step (ms) |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        task, _, model = run.rpartition(":")
        ms, steps = epoch_ms(task, model, args.preset, args.epochs)
        print(f"| `{task}` | {model} | {steps} | {ms:.1f} | {ms / steps:.2f} |")


if __name__ == "__main__":
    main()
