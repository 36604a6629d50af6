"""Where in the network does a soft model break a group? Per-layer weight residuals.

For finished runs of a grid (`softeq bench`; run folders `TASK/METHOD/sSEED/` with
the `report.json` every run writes), the normalised weight residual of each
`SoftLinear` layer $l$ for one group $G$,
$\\|(I - P_G)w_l\\|^2 / \\|w_l\\|^2$ (0: layer $l$ is exactly $G$-equivariant),
averaged over seeds, first layer to last. The last column is the last layer's
residual over the largest hidden layer's: how much more of the breaking sits in
the output map than inside the network. Reads the reports; trains nothing; only
models with soft layers (PER's SoftEMLP) have residuals.

    python benchmarks/bench_layer_residuals.py --runs results/per-inertia-converged \\
        [--methods per,per-prox] [--group O3] [--out results/layer-residuals/TABLE.md]
    python benchmarks/bench_layer_residuals.py \\
        --runs results/per-inertia-converged-500 --methods auto-per,auto-per-hidden \\
        --stage "impose-*"   # a softeq.fit stage

Prints a Markdown table (and writes it to `--out`). Never asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def collect(
    runs: Path, methods: list[str], group: str, stage: str | None = None
) -> dict[tuple[str, str], list]:
    """`(task folder, method) -> [per-layer residuals of `group`, one list per
    seed]` from `runs/TASK/METHOD/sSEED/report.json`, or, for the stages of a
    `softeq.fit` method, from `runs/TASK/METHOD/sSEED/STAGE/report.json` with
    `stage` a glob (e.g. ``"impose-*"``; a seed whose fit trained two
    matching stages counts twice)."""
    out: dict[tuple[str, str], list[list[float]]] = {}
    inner = "" if stage is None else f"{stage}/"
    for method in methods:
        for report in sorted(runs.glob(f"*/{method}/s*/{inner}report.json")):
            entries = {e["name"]: e for e in json.loads(report.read_text())["groups"]}
            layers = entries.get(group, {}).get("residual_layers")
            if layers:
                seed = report.parent if stage is None else report.parents[1]
                task = seed.parents[1].name
                out.setdefault((task, method), []).append(layers)
    return out


def table(cells: dict[tuple[str, str], list[list[float]]], group: str) -> str:
    """Markdown: one row per (task, method), mean over seeds of each layer's
    residual, then last layer / largest hidden layer."""
    if not cells:
        return f"(no run with per-layer residuals for {group})"
    depth = max(len(seeds[0]) for seeds in cells.values())
    head = " | ".join(f"layer {i + 1}" for i in range(depth))
    lines = [
        f"| task | method | seeds | {group} residual: {head} | last / hidden |",
        "|---|---|---|" + "---|" * (depth + 1),
    ]
    for (task, method), seeds in sorted(cells.items()):
        means = [statistics.mean(s[i] for s in seeds) for i in range(len(seeds[0]))]
        hidden = max(means[:-1], default=0.0)
        ratio = f"{means[-1] / hidden:.3g}" if hidden > 0 else "–"
        row = " | ".join(f"{m:.2g}" for m in means)
        lines.append(f"| {task} | {method} | {len(seeds)} | {row} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="a grid's folder")
    parser.add_argument("--methods", default="per,per-prox")
    parser.add_argument("--group", default="O3")
    parser.add_argument(
        "--stage", help="a softeq.fit stage's folder under each seed (a glob)"
    )
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    if not args.runs.is_dir():
        parser.error(f"--runs {args.runs}: no such folder")
    cells = collect(args.runs, args.methods.split(","), args.group, args.stage)
    text = table(cells, args.group)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
