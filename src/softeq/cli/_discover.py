"""`softeq discover`: fit PER to a user's data and print the symmetry report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data import from_file
from ..metrics import render_markdown, summary_line
from ..train import PRESETS, TrainConfig, Trainer


def add_discover_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data", type=Path, help=".npz (x, y[, x_val, ...]) or .csv file"
    )
    parser.add_argument("--rep-in", required=True, help='input layout, e.g. "5*V0+5*V"')
    parser.add_argument("--rep-out", required=True, help='output layout, e.g. "V2"')
    parser.add_argument(
        "--groups", default="O3,O2x,O2y,O2z",
        help="candidate groups, largest first (default: O3,O2x,O2y,O2z)",
    )  # fmt: skip
    parser.add_argument(
        "--tuner", default="per", choices=["per", "evidence", "constant"]
    )
    parser.add_argument(
        "--preset", default="converged", choices=list(PRESETS),
        help="converged (default: train until the validation MSE stops improving), "
        "fast (a short smoke run) or paper (the reference protocol)",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs (converged: the cap)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None, help="also write a run folder"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--cuda-graphs", action="store_true",
        help="replay the model's forward and backward from CUDA graphs (cuda only)",
    )  # fmt: skip


def run_discover(args: argparse.Namespace) -> int:
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; expected a run folder")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    task = from_file(args.data, rep_in=args.rep_in, rep_out=args.rep_out,
                     groups=groups, seed=args.seed)  # fmt: skip
    config = TrainConfig(
        task=str(args.data), model="per", preset=args.preset, tuner=args.tuner,
        epochs=args.epochs, seed=args.seed, device=args.device,
        cuda_graphs=args.cuda_graphs,
    )  # fmt: skip
    trainer = Trainer(config, args.out, task=task, progress=not args.json)
    summary = trainer.fit()
    report = trainer.report
    if args.json:
        keys = ("name", "strength", "residual", "equivariance_error", "cost",
                "cost_stderr", "verdict", "rank")  # fmt: skip
        print(json.dumps({
            "groups": [{k: g[k] for k in keys} for g in report["groups"]],
            "test_mse": summary["test_mse"],
            "verdict_basis": report["verdict_basis"],
            "summary": summary_line(report).replace("**", ""),
        }))  # fmt: skip
    else:
        print(render_markdown(report, f"Symmetry report: {args.data.name}"))
        print(f"Test MSE: {summary['test_mse']:.5g}")
    return 0
