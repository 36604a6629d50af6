"""`softeq discover`: fit PER to a user's data and print the symmetry report."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._atomic import write_text_atomic
from ..data import Task, from_file
from ..metrics import render_markdown, summary_line
from ..train import PRESETS, TrainConfig, Trainer

#: What a `softeq discover` run folder records about its data, so that `softeq
#: eval` can rebuild the task: the file (absolute path and SHA-256), the reps and
#: the candidate groups. The split's seed is the config's `seed`.
DATA_RECORD = "data.json"
_RECORD_KEYS = ("path", "sha256", "rep_in", "rep_out", "groups")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data file, its layouts and the candidate groups (discover, fit)."""
    parser.add_argument(
        "data", type=Path, help=".npz (x, y[, x_val, ...]) or .csv file"
    )
    parser.add_argument("--rep-in", required=True, help='input layout, e.g. "5*V0+5*V"')
    parser.add_argument("--rep-out", required=True, help='output layout, e.g. "V2"')
    parser.add_argument(
        "--groups", default="O3,O2x,O2y,O2z",
        help="candidate groups, largest first (default: O3,O2x,O2y,O2z)",
    )  # fmt: skip


def add_discover_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
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
    if args.out is not None:
        write_data_record(args.out, args.data, rep_in=args.rep_in,
                          rep_out=args.rep_out, groups=groups)  # fmt: skip
    summary = trainer.fit()
    report = trainer.report
    if args.json:
        keys = ("name", "strength", "residual", "equivariance_error", "cost",
                "cost_stderr", "breaking", "breaking_low", "breaking_high",
                "n_inputs", "n_samples", "outside_data", "constrained", "verdict",
                "to_decide",
                "rank")  # fmt: skip
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_data_record(
    out: Path, data: Path, *, rep_in: str, rep_out: str, groups: Sequence[str]
) -> None:
    """Write `DATA_RECORD` into the run folder `out` (created if needed)."""
    record = {"path": str(data.resolve()), "sha256": _sha256(data),
              "rep_in": rep_in, "rep_out": rep_out, "groups": list(groups)}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / DATA_RECORD, json.dumps(record, indent=2) + "\n")


def _read_data_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    strings = isinstance(record, dict) and all(
        isinstance(record.get(k), str) for k in _RECORD_KEYS[:-1]
    )
    groups = record.get("groups") if strings else None
    if not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        raise ValueError(
            f"{path} is malformed: expected a JSON object with the strings "
            f"{list(_RECORD_KEYS[:-1])} and a list of group names 'groups'"
        )
    return record


def task_from_run(run_dir: Path, config: TrainConfig) -> Task | None:
    """The task of a `softeq discover` run folder, rebuilt from its
    `DATA_RECORD`; None for a folder whose task `softeq.data.get_task` builds.

    Raises:
        ValueError: When the folder trained on a file but has no record (written
            before records existed), when the record is malformed, or when the
            data file is gone or has changed since the run.
    """
    path = run_dir / DATA_RECORD
    if not path.is_file():
        head = config.task.split(":", 1)[0].lower()
        if head.endswith((".npz", ".csv")):
            raise ValueError(
                f"{run_dir} was trained on the data file {config.task!r} but has "
                f"no {DATA_RECORD} saying how to read it (reps, groups); re-run "
                "softeq discover with --out to write one"
            )
        return None
    record = _read_data_record(path)
    data = Path(record["path"])
    if not data.is_file():
        raise ValueError(
            f"{path}: the run's data file {str(data)!r} does not exist; expected "
            "it where softeq discover read it"
        )
    if _sha256(data) != record["sha256"]:
        raise ValueError(
            f"{path}: the data file {str(data)!r} has changed since the run "
            "(SHA-256 differs); expected the file the run was trained on"
        )
    return from_file(data, rep_in=record["rep_in"], rep_out=record["rep_out"],
                     groups=record["groups"], seed=config.seed)  # fmt: skip
