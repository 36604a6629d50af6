"""What `fit(model=[...])` keeps, composed from a grid's recorded carrier fits.

`softeq.fit` with several models (`softeq.auto.Carrier`s, bench method
`auto-carriers`) runs one fit per model, each the fit that model's own bench
method makes to the bit, and keeps the one whose chosen model has the lowest
validation MSE. So its cell can be read off a grid that already ran those
methods (`softeq.bench._suites.FIT_CARRIERS`: `auto`, `auto-per-tuners`,
`auto-per-hidden`): per task and seed, the carrier with the lowest recorded
`val_mse` and its test MSE. Where the grid also holds `auto-carriers` runs, each
is checked against the composed choice (same carrier, same test MSE to the bit).

    python benchmarks/bench_carriers.py --results results/per-inertia-converged-500

Prints a Markdown table: per task, the composed test MSE (mean ± sample std over
seeds), which carrier each seed keeps, and each carrier's own test MSE.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from softeq.bench._suites import CARRIER_METHODS

#: Carrier name -> the bench method whose runs are that carrier's fit.
METHODS = CARRIER_METHODS


def cell(values: list[float]) -> str:
    """Mean ± sample std, as the grids' tables print them."""
    if len(values) < 2:
        return f"{values[0]:.3g}"
    return f"{statistics.mean(values):.3g} ± {statistics.stdev(values):.2g}"


def fit_runs(root: Path) -> list[dict]:
    """Every finished `softeq.fit` run under a grid folder: method, task, seed,
    validation and test MSE, and the carrier kept (``auto-carriers``), from each
    run's ``result.json``."""
    rows = []
    for path in sorted(root.glob("*/*/s*/result.json")):
        record = json.loads(path.read_text())
        summary = record.get("summary") or {}
        if record.get("status") == "failed" or summary.get("val_mse") is None:
            continue
        rows.append({"method": path.parent.parent.name, "task": summary["task"],
                     "seed": summary["seed"], "val_mse": summary["val_mse"],
                     "test_mse": summary["test_mse"],
                     "carrier": summary.get("carrier")})  # fmt: skip
    return rows


def compose(rows: list[dict]) -> tuple[list[str], list[str]]:
    """The table's rows and the check's mismatches, from a grid's fit runs
    (`fit_runs`)."""
    runs = {(r["method"], r["task"], r["seed"]): r for r in rows}
    tasks = sorted({r["task"] for r in rows if r["method"] == "auto"})
    lines, mismatches = [], []
    for task in tasks:
        seeds = sorted({s for (m, t, s) in runs if m == "auto" and t == task})
        kept, tests, own = [], [], {c: [] for c in METHODS}
        for seed in seeds:
            scores = {}
            for carrier, method in METHODS.items():
                run = runs.get((method, task, seed))
                if run is None:
                    break
                scores[carrier] = (run["val_mse"], run["test_mse"])
                own[carrier].append(run["test_mse"])
            else:
                best = min(scores, key=lambda c: scores[c][0])
                kept.append(best)
                tests.append(scores[best][1])
                ran = runs.get(("auto-carriers", task, seed))
                if ran is not None and (ran.get("carrier"), ran["test_mse"]) != (
                    best,
                    scores[best][1],
                ):
                    mismatches.append(f"{task} seed {seed}: ran {ran.get('carrier')} "
                                      f"{ran['test_mse']}, composed {best} "
                                      f"{scores[best][1]}")  # fmt: skip
        if len(kept) < len(seeds) or not kept:
            lines.append(f"| {task} | not every carrier ran | | | | |")
            continue
        lines.append(f"| {task} | {cell(tests)} | {', '.join(kept)} | "
                     + " | ".join(cell(own[c]) for c in METHODS) + " |")  # fmt: skip
    return lines, mismatches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, metavar="DIR",
                        help="a grid folder with the carriers' runs")  # fmt: skip
    args = parser.parse_args()
    lines, mismatches = compose(fit_runs(args.results))
    header = ["| task | kept on validation | carrier kept per seed | "
              + " | ".join(f"{c} (`{m}`)" for c, m in METHODS.items()) + " |",
              "|---" * (3 + len(METHODS)) + "|"]  # fmt: skip
    print("\n".join(header + lines))
    for line in mismatches:
        print(f"MISMATCH {line}", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
