"""How much of each run's test MSE is a few points? Per-point errors of kept runs.

For the finished runs of a grid (`softeq bench`; run folders `TASK/METHOD/sSEED/`
that still hold their selected model: `checkpoint.pt` of a trained run, `model.pt`
of a `softeq.fit` run), the test split's per-point squared errors
(`softeq.metrics.point_errors`) and their spread (`error_spread`): the MSE, the
MSE without the worst 1 % of points, the median point's error, the worst point's,
and the share of the MSE that worst 1 % carries. Each run's recomputed MSE is
checked against the one it recorded (the same model on the same split).

Runs made since these fields were measured record them already; with `--write`
this adds them to the `result.json` of older runs (their `summary`, the same
numbers a fresh run would record), so that `softeq report DIR` shows them.
Trains nothing. Prints a Markdown table; never asserts.

    python benchmarks/bench_point_errors.py --runs results/per-cossim-converged-500 \\
        [--methods per,auto-per-choose] [--tasks cossim:so3-scale] [--write]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from softeq.auto import Fit
from softeq.data import get_task
from softeq.metrics import SPREAD_FIELDS, error_spread, point_errors
from softeq.train import Trainer, load_checkpoint, load_config

RESULT = "result.json"
# relative difference between the recorded and the recomputed MSE that counts
# as the same model (float32 sums in batches against float64 per point)
_SAME = 1e-4


def _model_and_split(run: Path, result: dict) -> tuple[torch.nn.Module, object, object]:
    """The run's selected model and its test split."""
    spec = result["spec"]
    if (run / "model.pt").is_file():  # a softeq.fit run
        task = get_task(spec["task"], seed=spec["seed"])
        return Fit.load(run / "model.pt").model, task.x_test, task.y_test
    config = load_config(run / "config.toml")
    state = load_checkpoint(run / "checkpoint.pt")
    trainer = Trainer(config, None)
    best = state["best"]
    trainer.model.load_state_dict(best["model"] if best else state["model"])
    return trainer.model, trainer.data["x_test"], trainer.data["y_test"]


def measure(run: Path) -> dict | None:
    """The spread of `run`'s test errors beside its recorded MSE, or None for a
    folder without its model."""
    result = json.loads((run / RESULT).read_text())
    if not ((run / "model.pt").is_file() or (run / "checkpoint.pt").is_file()):
        return None
    model, x, y = _model_and_split(run, result)
    spread = error_spread(point_errors(model, x, y))
    recorded = float(result["summary"]["test_mse"])
    return {
        "recorded": recorded,
        **spread,
        "same": abs(spread["mean"] - recorded) <= _SAME * max(recorded, 1e-12),
    }


def write(run: Path, spread: dict) -> None:
    """Add the spread fields to `run`'s `result.json` summary (as a fresh run's)."""
    path = run / RESULT
    result = json.loads(path.read_text())
    keys = dict(zip(SPREAD_FIELDS, ("trimmed", "median", "worst_share"), strict=True))
    result["summary"].update({f"test_{f}": spread[k] for f, k in keys.items()})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="a grid's folder")
    parser.add_argument("--methods", help="comma-separated; default every method")
    parser.add_argument("--tasks", help="comma-separated, e.g. cossim:so3; default all")
    parser.add_argument(
        "--write",
        action="store_true",
        help="add the fields to each measured run's result.json",
    )
    args = parser.parse_args()
    if not args.runs.is_dir():
        parser.error(f"--runs {args.runs}: no such folder")
    methods = set(args.methods.split(",")) if args.methods else None
    tasks = set(args.tasks.split(",")) if args.tasks else None
    torch.set_num_threads(1)
    print("| task | method | seed | test MSE | without worst 1 % | median | worst "
          "| worst 1 %'s share | same model |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    skipped, mismatched, start = 0, 0, time.perf_counter()
    for path in sorted(args.runs.glob(f"*/*/s*/{RESULT}")):
        run = path.parent
        spec = json.loads(path.read_text())["spec"]
        if (methods and spec["method"] not in methods) or (
            tasks and spec["task"] not in tasks
        ):
            continue
        m = measure(run)
        if m is None:
            skipped += 1
            continue
        mismatched += not m["same"]
        print(f"| {spec['task']} | {spec['method']} | {spec['seed']} "
              f"| {m['recorded']:.4g} | {m['trimmed']:.4g} | {m['median']:.3g} "
              f"| {m['worst']:.3g} | {m['worst_share']:.0%} "
              f"| {'yes' if m['same'] else 'NO (not written)'} |")  # fmt: skip
        if args.write and m["same"]:
            write(run, m)
    print(f"\n{skipped} runs without their model skipped; {mismatched} whose "
          f"recomputed MSE differs from the recorded one; "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
