"""What does imposing each candidate group exactly do? EMLP per candidate, per setting.

The discovery benchmark (`bench_discovery.py`) scores the symmetry report against
each task's truth labels. This one asks the practical question behind a verdict:
for every setting of the discovery grid (7 inertia + 4 cossim) and every candidate
group G, the test MSE of EMLP(G), the network that is exactly G-equivariant, next
to the plain MLP's (same preset, same seeds). A group the data respect should not
cost test MSE when imposed; a broken one should. Prints a Markdown table (setting x
candidate: the truth label, test MSE mean ± sample std, and the ratio of means to
the MLP's) and writes every run as a JSON line. Never asserts.

    python benchmarks/bench_hard_candidates.py [--preset fast] [--seeds 3]
        [--workers 2] [--settings inertia:o2z,cossim:scale]
        [--out results/hard_candidates.jsonl]
    python benchmarks/bench_hard_candidates.py --table results/hard_candidates.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from bench_discovery import SETTINGS, run_jobs  # shared (run from benchmarks/)

#: The reference model of every setting (row key "group" is None).
MLP = None


def run_one(job: tuple[str, str | None, int, str]) -> dict:
    """Train EMLP(group), or the MLP for group None; return its test MSE."""
    from softeq.train import TrainConfig, Trainer

    task, group, seed, preset = job
    torch.set_num_threads(1)
    model = {"model": "mlp"} if group is MLP else {"model": "emlp", "group": group}
    summary = Trainer(TrainConfig(task=task, seed=seed, preset=preset, **model)).fit()
    return {"task": task, "group": group, "seed": seed,
            "test_mse": summary["test_mse"]}  # fmt: skip


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def table(rows: list[dict]) -> str:
    """Markdown: one line per setting and candidate, the MLP's line first."""
    from softeq.data import get_task

    settings = list(dict.fromkeys(r["task"] for r in rows))
    lines = [
        "| setting | model | truth | test MSE | / MLP |",
        "|---|---|---|---|---|",
    ]
    for setting in settings:
        task = get_task(setting)
        mse = {}
        for r in rows:
            if r["task"] == setting:
                mse.setdefault(r["group"], []).append(r["test_mse"])
        base = statistics.mean(mse[MLP]) if MLP in mse else None
        for group in [MLP] + list(task.groups):
            if group not in mse:
                continue
            name = "MLP" if group is MLP else f"EMLP({group})"
            truth = "–" if group is MLP else task.truth.get(group, "?")
            ratio = (
                f"{statistics.mean(mse[group]) / base:.2f}"
                if base and group is not MLP
                else "–"
            )
            lines.append(
                f"| {setting} | {name} | {truth} | {_mean_std(mse[group])} | {ratio} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument(
        "--out", type=Path, default=Path("results/hard_candidates.jsonl")
    )
    parser.add_argument(
        "--table", type=Path, metavar="JSONL",
        help="print the table of runs saved earlier (no training)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.table is not None:
        rows = [json.loads(line) for line in args.table.read_text().splitlines()]
        print(table(rows))
        return
    from softeq.data import get_task

    settings = args.settings.split(",")
    jobs = [
        (setting, group, seed, args.preset)
        for setting in settings
        for group in [MLP] + list(get_task(setting).groups)
        for seed in range(args.seeds)
    ]
    rows = run_jobs(run_one, jobs, args.out, args.workers)
    print(f"preset {args.preset}, seeds {args.seeds}")
    print(table(rows))


if __name__ == "__main__":
    main()
