"""Read Waymo Open Motion tf.Example shards without TensorFlow; write a motion ``.npz``.

PER's motion pipeline (Kim et al. 2023) minus its centring and normalisation, which
`softeq.data.motion_task` applies: read each TFRecord shard (CRC-32C checked), decode
each scenario's ``state/{past,current,future}/{x,y,z,valid}`` (91 steps at 10 Hz),
keep agents as `agent_trajectories` says, subsample to 12 points at 5 Hz, split by
file (`split_files`) and write ``past``/``future`` `(n, 6, 1, 3)` in raw metres.

Run ``python -m softeq.data.waymo SHARD... --out motion.npz``; see ``docs/waymo.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .._atomic import write_atomic
from .._progress import progress_bar
from ._crc32c import crc32c, masked_crc32c
from ._tfrecord import (
    TFRecordError,
    make_example,
    parse_example,
    read_records,
    scan_records,
    write_records,
)

__all__ = [
    "FILTERS",
    "SPLITS",
    "STATE_KEYS",
    "TFRecordError",
    "agent_trajectories",
    "convert",
    "crc32c",
    "main",
    "make_example",
    "masked_crc32c",
    "parse_example",
    "read_records",
    "split_files",
    "write_records",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")  # stored as split codes 0, 1, 2
FILTERS = ("reference", "none")
_STEPS = {"past": 10, "current": 1, "future": 80}  # 91 steps at 10 Hz
STATE_KEYS = tuple(f"state/{p}/{c}" for p in _STEPS for c in ("x", "y", "z", "valid"))
_WINDOW = 24  # steps that must be valid: t = -1.0 ... +1.3 s
_STRIDE = 2  # 10 Hz -> 5 Hz
_POINTS = 12  # 6 past/current + 6 future
_CURRENT = 5  # index of t = 0 among the 12 points
_DT = 0.2

PathLike = str | os.PathLike[str]


def agent_trajectories(
    features: Mapping[str, np.ndarray],
    *,
    filter: str = "reference",
    min_dz: float = 0.05,
    max_dx: float = 5.0,
    max_dy: float = 5.0,
) -> np.ndarray:
    """Select and subsample the agents of one scenario as PER does.

    Agents (slots) are kept when steps 0-23 are all valid and the 12 used positions
    are finite; with ``filter="reference"`` they must also satisfy
    $|z_0 - z_5| >$ `min_dz`, $|x_0 - x_5| <$ `max_dx` and $|y_0 - y_5| <$
    `max_dy` (metres, compared in float32 like the reference; index 5 = t = 0).
    ``filter="none"`` ignores the three thresholds.

    Args:
        features: A decoded scenario (`parse_example`), holding ``STATE_KEYS``
            with `(agents * steps,)` values, agent-major.
        filter: ``"reference"`` or ``"none"``.
        min_dz: Least vertical displacement over the past second, exclusive.
        max_dx: Largest x displacement over the past second, exclusive.
        max_dy: Largest y displacement over the past second, exclusive.

    Returns:
        `(n_kept, 12, 3)` float32 positions x, y, z at t = -1.0, -0.8, ..., +1.2 s,
        in slot order.

    Raises:
        ValueError: A key is missing or the sizes disagree with the agent count.
    """
    _check_filter(filter, min_dz, max_dx, max_dy)
    x, y, z, valid = _state(features)
    is_kept = (valid[:, :_WINDOW] != 0).all(axis=1)
    points = np.stack([x, y, z], axis=-1)[:, : _WINDOW - 1 : _STRIDE]
    is_kept &= np.isfinite(points).all(axis=(1, 2))
    if filter == "reference":
        moved = np.abs(points[:, 0] - points[:, _CURRENT])
        is_kept &= moved[:, 2] > np.float32(min_dz)
        is_kept &= moved[:, 0] < np.float32(max_dx)
        is_kept &= moved[:, 1] < np.float32(max_dy)
    return points[is_kept]


def _state(features: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Concatenate past, current and future: x, y, z (float32) and valid, `(A, 91)`."""
    missing = [key for key in STATE_KEYS if key not in features]
    if missing:
        raise ValueError(f"not a Waymo motion scenario: no feature {missing[0]!r}")
    n_agents = np.asarray(features["state/current/x"]).size
    out = []
    for coordinate in ("x", "y", "z", "valid"):
        parts = []
        for part, n_steps in _STEPS.items():
            key = f"state/{part}/{coordinate}"
            values = np.asarray(features[key]).ravel()
            if values.size != n_agents * n_steps:
                raise ValueError(
                    f"{key} has {values.size} values, expected {n_agents} agents x "
                    f"{n_steps} steps = {n_agents * n_steps}"
                )
            parts.append(values.reshape(n_agents, n_steps))
        dtype = np.int64 if coordinate == "valid" else np.float32
        out.append(np.concatenate(parts, axis=1).astype(dtype, copy=False))
    return out


def _check_filter(filter: str, min_dz: float, max_dx: float, max_dy: float) -> None:
    if filter not in FILTERS:
        raise ValueError(f"filter must be one of {FILTERS}, got {filter!r}")
    limits = {"min_dz": min_dz, "max_dx": max_dx, "max_dy": max_dy}
    for name, value in limits.items():
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0 m, got {value!r}")


def split_files(paths: Iterable[PathLike]) -> dict[str, list[Path]]:
    """Assign shards to splits by file, as PER does.

    The paths are sorted (as strings, like a sorted glob); with $n \\ge 3$ files and
    $s = \\max(1, \\lfloor n/6 \\rfloor)$, train gets the first $n - 2s$, val the
    next $s$ and test the last $s$. With fewer than 3 files all are training files.

    Example:
        >>> {k: len(v) for k, v in split_files(f"s{i:03d}" for i in range(100)).items()}
        {'train': 68, 'val': 16, 'test': 16}
    """
    files = sorted((Path(p) for p in paths), key=str)
    n = len(files)
    s = max(1, n // 6) if n >= 3 else 0
    return {
        "train": files[: n - 2 * s],
        "val": files[n - 2 * s : n - s],
        "test": files[n - s :],
    }


def _resolve(
    shards: PathLike | Sequence[PathLike] | Mapping[str, Sequence[PathLike]],
) -> dict[str, list[Path]]:
    if isinstance(shards, Mapping):
        unknown = sorted(set(shards) - set(SPLITS))
        if unknown:
            raise ValueError(
                f"unknown split {unknown[0]!r}; expected keys among {SPLITS}"
            )
        mapping = {
            split: [Path(p) for p in _as_list(shards.get(split, []))]
            for split in SPLITS
        }
    else:
        mapping = split_files(_as_list(shards))
    seen: dict[Path, str] = {}
    for split, files in mapping.items():
        for path in files:
            if path in seen:
                raise ValueError(f"{path} is listed twice ({seen[path]} and {split})")
            seen[path] = split
            if not path.is_file():
                raise ValueError(f"{path}: no such file")
    if not seen:
        raise ValueError("no shard given")
    return mapping


def _as_list(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [paths] if isinstance(paths, str | os.PathLike) else list(paths)


def convert(
    shards: PathLike | Sequence[PathLike] | Mapping[str, Sequence[PathLike]],
    out_path: PathLike,
    *,
    filter: str = "reference",
    min_dz: float = 0.05,
    max_dx: float = 5.0,
    max_dy: float = 5.0,
    check_crc: bool = True,
    progress: Callable[[int], object] | None = None,
) -> dict[str, int]:
    """Convert Waymo Open Motion tf.Example shards to a motion ``.npz``.

    The file holds ``past`` and ``future`` float32 `(n, 6, 1, 3)` (raw metres,
    one agent per sample, not centred), ``split`` int8 `(n,)` (0 train, 1 val,
    2 test) and the metadata ``units`` = "m", ``dt`` = 0.2, ``vertical_axis`` = 2,
    ``names`` = ["agent"]. It is written to a temporary file and renamed, so
    `out_path` is never left half-written.

    Args:
        shards: Shard paths, split by `split_files`, or an explicit mapping
            ``{"train": [...], "val": [...], "test": [...]}`` (keys optional).
        out_path: Output file, ending in ``.npz``; its folder must exist.
        filter: Agent selection, see `agent_trajectories`.
        min_dz: See `agent_trajectories`.
        max_dx: See `agent_trajectories`.
        max_dy: See `agent_trajectories`.
        check_crc: Verify the TFRecord checksums.
        progress: Called with the number of bytes consumed after each record.

    Returns:
        The number of samples per split, e.g. ``{"train": 120, "val": 30, "test": 28}``.

    Raises:
        ValueError: A missing or repeated shard, a bad option, a malformed record
            (`TFRecordError` for framing and checksums), or no agent at all passing
            the filter.
    """
    _check_filter(filter, min_dz, max_dx, max_dy)
    out_path = Path(out_path)
    if out_path.suffix != ".npz" or not out_path.parent.is_dir():
        raise ValueError(f"{out_path}: expected a .npz file name in an existing folder")
    mapping = _resolve(shards)
    options = {"filter": filter, "min_dz": min_dz, "max_dx": max_dx, "max_dy": max_dy}
    trajectories, codes = [], []
    for code, split in enumerate(SPLITS):
        for path in mapping[split]:
            for found in _read_shard(path, check_crc, options, progress):
                trajectories.append(found)
                codes.append(np.full(len(found), code, dtype=np.int8))
    n_scenarios = len(trajectories)
    points = np.concatenate(trajectories or [np.empty((0, _POINTS, 3), np.float32)])
    if not len(points):
        raise ValueError(
            f"no agent passed the {filter!r} filter in {n_scenarios} scenarios"
        )
    split = np.concatenate(codes)
    counts = {name: int((split == code).sum()) for code, name in enumerate(SPLITS)}
    for name, count in counts.items():
        if not count:
            logger.warning("the %s split of %s is empty", name, out_path)
    _save_atomic(
        out_path,
        past=points[:, : _POINTS // 2, None, :],
        future=points[:, _POINTS // 2 :, None, :],
        split=split,
        units=np.array("m"),
        dt=np.array(_DT),
        vertical_axis=np.array(2),
        names=np.array(["agent"]),
    )
    return counts


def _read_shard(
    path: Path,
    check_crc: bool,
    options: dict[str, Any],
    progress: Callable[[int], object] | None,
) -> Iterator[np.ndarray]:
    """Yield the kept trajectories of each record of one shard, naming it on error."""
    for index, offset, record in scan_records(path, check_crc=check_crc):
        try:
            features = parse_example(record, keys=STATE_KEYS)
            found = agent_trajectories(features, **options)
        except ValueError as err:
            raise ValueError(
                f"{path}: record {index} at byte offset {offset}: {err}"
            ) from err
        if progress is not None:
            progress(len(record) + 16)  # 12-byte header, 4-byte footer
        yield found


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` atomically (`softeq._atomic.write_atomic`)."""
    write_atomic(path, lambda fh: np.savez_compressed(fh, **arrays))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m softeq.data.waymo SHARD... --out FILE.npz``.

    Returns:
        0 on success, 1 when protobuf is missing, 2 on bad input (one-line error).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        shards = args.shards
        if args.val or args.test:
            shards = {
                "train": args.shards,
                "val": args.val or [],
                "test": args.test or [],
            }
        with _progress_bar(shards) as bar:
            counts = convert(
                shards, args.out, filter=args.filter, min_dz=args.min_dz,
                max_dx=args.max_dx, max_dy=args.max_dy,
                check_crc=not args.no_crc_check, progress=bar,
            )  # fmt: skip
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except ImportError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    except (_UsageError, ValueError, OSError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{n} {split}" for split, n in counts.items())
    print(f"wrote {args.out}: {summary} trajectories")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m softeq.data.waymo",
        description="Convert Waymo Open Motion tf.Example shards (TFRecord) to a "
        "motion .npz: past/future (n, 6, 1, 3) in metres, split by file.",
    )
    parser.add_argument(
        "shards", nargs="+", metavar="SHARD", help="TFRecord shards, split by file"
    )
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument(
        "--val", nargs="+", metavar="SHARD", help="validation shards (then SHARD... "
        "are all training shards; list them before --val/--test)",
    )  # fmt: skip
    parser.add_argument("--test", nargs="+", metavar="SHARD", help="test shards")
    parser.add_argument(
        "--filter", choices=FILTERS, default="reference",
        help="'none' keeps every agent with 24 valid steps (default: %(default)s)",
    )  # fmt: skip
    for flag, default, what in [
        ("--min-dz", 0.05, "least |z0 - z5|"),
        ("--max-dx", 5.0, "largest |x0 - x5|"),
        ("--max-dy", 5.0, "largest |y0 - y5|"),
    ]:
        help_text = f"{what} in metres, exclusive (default: %(default)s)"
        parser.add_argument(
            flag, type=float, default=default, metavar="M", help=help_text
        )
    parser.add_argument(
        "--no-crc-check", action="store_true", help="skip the CRC-32C checks"
    )
    return parser


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see --help)")


@contextlib.contextmanager
def _progress_bar(shards: Any) -> Iterator[Callable[[int], object] | None]:
    """A tqdm byte counter when tqdm is installed and stderr is a terminal."""
    if isinstance(shards, Mapping):
        shards = [path for paths in shards.values() for path in paths]
    total = sum(Path(p).stat().st_size for p in shards if Path(p).is_file())
    bar = progress_bar(total=total, desc="shards", unit="B", unit_scale=True)
    if bar is None:
        yield None
        return
    with bar:
        yield bar.update


if __name__ == "__main__":
    sys.exit(main())
