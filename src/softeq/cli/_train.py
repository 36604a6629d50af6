"""`softeq train` and `softeq eval`."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Any

from ..train import TrainConfig, Trainer, config_from_dict, load_checkpoint, load_config

_HELP = {
    "task": "task spec, e.g. inertia:o2z, cossim:so3, o5-synthetic:3000 (softeq list)",
    "model": "mlp, mlp-aug, emlp, rpp, rpp-oracle or per",
    "preset": "fast (minutes) or paper (the reference protocol)",
}


def _field_type(field: dataclasses.Field) -> type:
    hints = typing.get_type_hints(TrainConfig)
    hint = hints[field.name]
    for candidate in (bool, int, float, str):
        if hint is candidate or candidate in typing.get_args(hint):
            return candidate
    return str


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field (`--batch-size` for `batch_size`)."""
    parser.add_argument("--config", type=Path, help="TOML config; flags override it")
    parser.add_argument(
        "--out", type=Path, help="run folder (default runs/TASK-MODEL-sSEED)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt"
    )
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        kind = _field_type(field)
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None)
        else:
            parser.add_argument(
                flag, type=kind, default=None, help=_HELP.get(field.name)
            )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config file (if any) with every given flag applied on top."""
    base: dict[str, Any] = {}
    if args.config is not None:
        base = load_config(args.config).to_dict()
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name)
        if value is not None:
            base[field.name] = value
    return config_from_dict(base)


def print_summary(summary: dict[str, Any], out: Path | None) -> None:
    print(f"{summary['model']} on {summary['task']} (seed {summary['seed']}): "
          f"test MSE {summary['test_mse']:.5g}, val MSE {summary['val_mse']:.5g}, "
          f"{summary['num_parameters']:,} parameters, "
          f"best epoch {summary['best_epoch']} of {summary['epochs_run']}")  # fmt: skip
    print(
        "  group         truth  strength  equivariance error  (Gaussian inputs)"
        "  true error"
    )
    for name, g in summary["groups"].items():
        strength = summary["strengths"].get(name)
        true = g["true_error"]
        print(
            f"  {name:<12} {str(g['truth']):>6}  "
            f"{'-' if strength is None else f'{strength:.3g}':>8}  "
            f"{g['equivariance_error']:18.4f}  "
            f"{g['equivariance_error_gaussian']:17.4f}  "
            f"{'-' if true is None else f'{true:.4f}':>10}"
        )
    if out is not None:
        print(f"  run folder: {out}")


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    out = (
        args.out
        or Path("runs")
        / f"{config.task.replace(':', '-')}-{config.model}-s{config.seed}"
    )
    trainer = Trainer(config, out, progress=True)
    summary = trainer.fit(resume=args.resume)
    print_summary(summary, out)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    config = load_config(run_dir / "config.toml")
    trainer = Trainer(config, None)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    best = state.get("best")
    trainer.model.load_state_dict(best["model"] if best else state["model"])
    trainer.epoch = int(state["epoch"])
    summary = trainer.evaluate()
    summary["best_epoch"] = None if best is None else best["epoch"]
    print_summary(summary, run_dir)
    return 0
