"""`softeq train` and `softeq eval`."""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import torch

from ..metrics import BREAKING_THRESHOLDS, SPREAD_FIELDS
from ..train import (
    TrainConfig,
    Trainer,
    config_from_dict,
    load_checkpoint,
    load_config,
    validate,
)
from ._discover import task_from_run


def field_help() -> dict[str, str]:
    """Each `TrainConfig` field's help: its entry under ``Args:`` in the class
    docstring, one line (so flags and docs cannot drift apart)."""
    doc = TrainConfig.__doc__ or ""
    section = doc.split("Args:", 1)[-1]
    helps: dict[str, str] = {}
    name = None
    for line in section.splitlines():
        match = re.match(r"^ {8}(\w+): (.*)$", line)
        if match:
            name, text = match.groups()
            helps[name] = text
        elif name is not None and line.startswith(" " * 12):
            helps[name] += " " + line.strip()
    # argparse formats help with %: escape literal percent signs
    return {k: " ".join(v.replace("``", "").split()).replace("%", "%%")
            for k, v in helps.items()}  # fmt: skip


def _field_type(field: dataclasses.Field) -> type:
    hints = typing.get_type_hints(TrainConfig)
    hint = hints[field.name]
    for candidate in (bool, int, float, str):
        if hint is candidate or candidate in typing.get_args(hint):
            return candidate
    return str


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field (`--batch-size` for `batch_size`), with
    its docstring as help; booleans get `--flag` / `--no-flag`."""
    parser.add_argument("--config", type=Path, help="TOML config; flags override it")
    parser.add_argument(
        "--out", type=Path, help="run folder (default runs/TASK-MODEL-sSEED)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt"
    )
    helps = field_help()
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        kind = _field_type(field)
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=None, help=helps.get(field.name))  # fmt: skip
        else:
            parser.add_argument(
                flag, type=kind, default=None, help=helps.get(field.name)
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
    return checked(config_from_dict(base), args.config)


def checked(config: TrainConfig, source: Path | None) -> TrainConfig:
    """Check types and ranges before any use: a config file may hold
    ``epochs = "ten"`` or ``task = 3``, which the preset arithmetic in
    `resolve_config` would otherwise trip over. Errors name `source`."""
    try:
        validate(config, partial=True)
    except ValueError as err:
        raise ValueError(f"{source}: {err}" if source else str(err)) from None
    return config


def print_summary(summary: dict[str, Any], out: Path | None) -> None:
    print(f"{summary['model']} on {summary['task']} (seed {summary['seed']}): "
          f"test MSE {summary['test_mse']:.5g}, val MSE {summary['val_mse']:.5g}, "
          f"{summary['num_parameters']:,} parameters, "
          f"best epoch {summary['best_epoch']} of {summary['epochs_run']}")  # fmt: skip
    if summary.get("test_trimmed_mse") is not None:  # `softeq.metrics.spread_fields`
        print(f"  test MSE without the worst 1 % of test points "
              f"{summary['test_trimmed_mse']:.5g} (they carry "
              f"{summary['test_worst_share']:.0%} of it), median point's squared "
              f"error {summary['test_median_se']:.3g}")  # fmt: skip
    # the task's own metrics (`Task.metrics`), e.g. test_ade, test_fde in metres
    spread = {f"test_{f}" for f in SPREAD_FIELDS}
    extra = [
        f"{k} {v:.5g}"
        for k, v in summary.items()
        if k.startswith("test_")
        and k != "test_mse"
        and k not in spread
        and isinstance(v, float)
    ]
    if extra:
        print("  " + ", ".join(extra))
    print(
        "  group         truth       verdict   breaking [95 % interval]  strength"
        "  equivariance error  (Gaussian inputs)  true error"
    )
    for name, g in summary["groups"].items():
        strength = summary["strengths"].get(name)
        true = g["true_error"]
        breaking = (
            "-"
            if g.get("breaking") is None
            else f"{g['breaking']:+.3f} [{g['breaking_low']:+.3f}, "
            f"{g['breaking_high']:+.3f}]"
        )
        print(
            f"  {name:<12} {str(g['truth']):>6}  {g['verdict']:>12}  {breaking:>24}  "
            f"{'-' if strength is None else f'{strength:.3g}':>8}  "
            f"{g['equivariance_error']:18.4f}  "
            f"{g['equivariance_error_gaussian']:17.4f}  "
            f"{'-' if true is None else f'{true:.4f}':>10}"
        )
    if any(g.get("breaking") is not None for g in summary["groups"].values()):
        t = BREAKING_THRESHOLDS
        print(
            "  verdict from the breaking, the test MSE's increase when predicting "
            "through a random group element over 2 Var(y): exact when its interval "
            f"lies below {t['exact']:g}, broken above {t['broken']:g}, approximate "
            "between, else undetermined (report.md says why)"
        )
    if out is not None:
        print(f"  run folder: {out}")


def _folder_name(task: str) -> str:
    """`task` as one folder name: ``inertia:o2z`` -> ``inertia-o2z``,
    ``motion:/data/waymo.npz:residual`` -> ``motion-waymo.npz-residual`` (a
    file's folders are dropped)."""
    head, _, rest = task.partition(":")
    last = re.split(r"[/\\]", rest)[-1]
    name = f"{head}:{last}" if rest else head
    return re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-.") or "task"


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    out = (
        args.out
        or Path("runs") / f"{_folder_name(config.task)}-{config.model}-s{config.seed}"
    )
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; expected a run folder")
    trainer = Trainer(config, out, progress=True)
    # without a checkpoint there is nothing to continue: start clean, so that rows
    # logged by a run killed before its first checkpoint are not kept twice
    resume = args.resume and (out / "checkpoint.pt").is_file()
    summary = trainer.fit(resume=resume)
    print_summary(summary, out)
    return 0


#: Config fields that say where and how a run executes, not what it trains.
_WHERE = ("device", "cuda_graphs")


def run_eval(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    config = load_config(run_dir / "config.toml")
    device = getattr(args, "device", None)
    if device is None and config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{run_dir} was trained on cuda, which torch does not see here; "
            "evaluate it on the CPU with --device cpu"
        )
    # where and how the run executes is no part of what it trained; evaluation
    # never trains, so it needs no CUDA graphs
    config = dataclasses.replace(config, device=device or config.device,
                                 cuda_graphs=False)  # fmt: skip
    config = checked(config, run_dir / "config.toml")
    state = load_checkpoint(run_dir / "checkpoint.pt")  # before the costly model
    # a `softeq discover` folder: its data file, reps and groups are recorded
    trainer = Trainer(config, None, task=task_from_run(run_dir, config))
    written = {**state["config"], **{k: getattr(config, k) for k in _WHERE}}
    if written != trainer.config.to_dict():
        diff = sorted(k for k, v in trainer.config.to_dict().items()
                      if written.get(k) != v)  # fmt: skip
        raise ValueError(
            f"{run_dir}: checkpoint.pt was written by a different config than "
            f"config.toml (differs in {diff})"
        )
    best = state["best"]
    try:
        trainer.model.load_state_dict(best["model"] if best else state["model"])
    except RuntimeError as err:  # shapes or names that do not fit the model
        message = " ".join(str(err).split())[:300]
        raise ValueError(
            f"{run_dir}: checkpoint.pt does not fit the model: {message}"
        ) from None
    trainer.epoch = int(state["epoch"])
    summary = trainer.evaluate()
    summary["best_epoch"] = None if best is None else best["epoch"]
    print_summary(summary, run_dir)
    return 0
