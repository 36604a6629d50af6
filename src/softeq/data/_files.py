"""Load a user's data set from ``.npz`` or ``.csv`` into a `Task`."""

from __future__ import annotations

import csv
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..groups import get
from ..reps import Rep, parse
from ._task import Task, check_seed, seeded

_OPTIONAL = ("x_val", "y_val", "x_test", "y_test")
_COLUMN = re.compile(r"([xy])(\d+)")
_SPLIT_VALUES = ("train", "val", "test")
#: Anything `numpy.asarray` reads as numbers (arrays, tensors, nested lists).
ArrayLike = Any


def from_file(
    path: str | os.PathLike[str],
    *,
    rep_in: str,
    rep_out: str,
    groups: Sequence[str],
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Task:
    """Load a regression data set from a ``.npz`` or ``.csv`` file.

    **npz** (read with ``allow_pickle=False``, never unpickled): arrays ``x``
    `(n, rep_in.dim)` and ``y`` `(n, rep_out.dim)` (1-D ``y`` is read as one
    column), optionally ``x_val``/``y_val`` and ``x_test``/``y_test`` (each pair
    together).

    **csv**: a header row, then one sample per row. Input columns ``x0..x{n-1}``
    and target columns ``y0..y{m-1}``, in any order; an optional ``split`` column
    holding ``train``, ``val`` or ``test`` fixes the splits. Other columns are an
    error.

    Splits not given by the file are drawn from the training pool with a
    generator seeded `seed`: $\\mathrm{round}(f\\,n)$ samples each for validation
    and test, with $f$ = `val_fraction` / `test_fraction` of the pooled $n$.
    Values are stored as float32; `truth` is ``"unknown"`` for every group and
    `true_fn` is None.

    Args:
        path: File ending in ``.npz`` or ``.csv``.
        rep_in: Input rep string, e.g. ``"5*V0+5*V"``.
        rep_out: Output rep string, e.g. ``"V2"``.
        groups: Candidate group names, largest first.
        seed: Seed of the random split.
        val_fraction: Fraction of the pool for validation when not given.
        test_fraction: Fraction of the pool for testing when not given.

    Returns:
        A `Task` named ``file:<file name>``.

    Raises:
        ValueError: One line naming the file and what was expected, for a
            missing file or array, a malformed CSV, a wrong ndim, differing row
            counts, feature sizes that do not match the reps, NaN or inf, an
            empty split, bad fractions, or an unknown group.
    """
    path = Path(path)
    who = f"from_file({path.name})"
    seed = check_seed(seed, who)
    group_names = _check_groups(groups, who)
    reps = _parse_reps(rep_in, rep_out, group_names[0], who)
    _check_fractions(val_fraction, test_fraction, who)
    arrays = _read(path, who)
    return _task(f"file:{path.name}", arrays, rep_in, rep_out, group_names, reps,
                 (val_fraction, test_fraction), seed, who)  # fmt: skip


def from_arrays(
    x: ArrayLike,
    y: ArrayLike,
    *,
    rep_in: str,
    rep_out: str,
    groups: Sequence[str],
    x_val: ArrayLike | None = None,
    y_val: ArrayLike | None = None,
    x_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    name: str = "arrays",
) -> Task:
    """A `Task` from in-memory arrays, checked and split as `from_file` does.

    Args:
        x: Inputs `(n, rep_in.dim)` (NumPy array, tensor or nested lists).
        y: Targets `(n, rep_out.dim)`; 1-D is read as one column.
        rep_in: Input rep string, e.g. ``"5*V0+5*V"``.
        rep_out: Output rep string, e.g. ``"V2"``.
        groups: Candidate group names, largest first.
        x_val: Validation inputs (with `y_val`), else carved from `x`.
        y_val: Validation targets.
        x_test: Test inputs (with `y_test`), else carved from `x`.
        y_test: Test targets.
        seed: Seed of the random split.
        val_fraction: Share of `x` for validation when not given.
        test_fraction: Share of `x` for testing when not given.
        name: The task's name is ``arrays:<name>``.

    Raises:
        ValueError: One line saying what was expected (as `from_file`).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(50, 3))
        >>> task = from_arrays(x, x, rep_in="V", rep_out="V", groups=["O3"])
        >>> task.name, len(task.x_train), len(task.x_val), len(task.x_test)
        ('arrays:arrays', 30, 10, 10)
    """
    who = f"from_arrays({name})"
    seed = check_seed(seed, who)
    group_names = _check_groups(groups, who)
    reps = _parse_reps(rep_in, rep_out, group_names[0], who)
    _check_fractions(val_fraction, test_fraction, who)
    arrays = {"x": x, "y": y}
    for key, value in (("x_val", x_val), ("y_val", y_val), ("x_test", x_test),
                       ("y_test", y_test)):  # fmt: skip
        if value is not None:
            arrays[key] = value
    _check_npz_keys(set(arrays), who)
    arrays = {k: _as_numpy(v, k, who) for k, v in arrays.items()}
    return _task(f"arrays:{name}", arrays, rep_in, rep_out, group_names, reps,
                 (val_fraction, test_fraction), seed, who)  # fmt: skip


def _as_numpy(value: ArrayLike, key: str, who: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{who}: {key} is not a numeric array: {err}") from None


def _task(
    name: str,
    arrays: dict[str, np.ndarray],
    rep_in: str,
    rep_out: str,
    group_names: tuple[str, ...],
    reps: tuple[Rep, Rep],
    fractions: tuple[float, float],
    seed: int,
    who: str,
) -> Task:
    arrays = {k: _as_matrix(v, k, who) for k, v in arrays.items()}
    _check_arrays(arrays, reps, who)
    splits = _split(arrays, fractions, seed, who)
    return Task(
        name=name,
        rep_in=rep_in,
        rep_out=rep_out,
        groups=group_names,
        truth=dict.fromkeys(group_names, "unknown"),
        true_fn=None,
        **{k: torch.from_numpy(v) for k, v in splits.items()},
    )


def _check_groups(groups: Sequence[str], who: str) -> tuple[str, ...]:
    if isinstance(groups, str) or not isinstance(groups, Sequence) or not groups:
        raise ValueError(
            f"{who}: groups must be a non-empty sequence of group names, got {groups!r}"
        )
    try:
        dims = {name: get(name).d for name in groups}
    except ValueError as err:
        raise ValueError(f"{who}: {err}") from None
    if len(dims) != len(groups):
        raise ValueError(f"{who}: groups must be distinct, got {list(groups)}")
    if len(set(dims.values())) > 1:
        raise ValueError(
            f"{who}: candidate groups must act on the same R^d, got "
            f"{', '.join(f'{name} on R^{d}' for name, d in dims.items())}"
        )
    return tuple(groups)


def _parse_reps(rep_in: str, rep_out: str, group: str, who: str) -> tuple[Rep, Rep]:
    try:
        return parse(rep_in, get(group)), parse(rep_out, get(group))
    except ValueError as err:
        raise ValueError(f"{who}: {err}") from None


def _check_fractions(val: float, test: float, who: str) -> None:
    ok = all(isinstance(f, int | float) and 0 <= f < 1 for f in (val, test))
    if not ok or val + test >= 1:
        raise ValueError(
            f"{who}: expected val_fraction and test_fraction in [0, 1) with sum "
            f"< 1, got {val!r} and {test!r}"
        )


def _read(path: Path, who: str) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ValueError(f"{who}: no such file {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, who)
    if suffix == ".csv":
        return _read_csv(path, who)
    raise ValueError(f"{who}: expected a .npz or .csv file, got suffix {suffix!r}")


def _read_npz(path: Path, who: str) -> dict[str, np.ndarray]:
    try:
        # our own handle: np.load leaks its own when the zip directory is corrupt
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not named arrays")
            with loaded as npz:
                keys = set(npz.files)
                _check_npz_keys(keys, who)
                return {k: npz[k] for k in ("x", "y", *_OPTIONAL) if k in keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        if str(err).startswith(who):
            raise
        raise ValueError(
            f"{who}: cannot read as an npz of numeric arrays without pickles: {err}"
        ) from None


def _check_npz_keys(keys: set[str], who: str) -> None:
    missing = [k for k in ("x", "y") if k not in keys]
    if missing:
        raise ValueError(
            f"{who}: missing array(s) {missing}; expected 'x' and 'y' (optional "
            f"{', '.join(_OPTIONAL)}), found {sorted(keys)}"
        )
    for split in ("val", "test"):
        if (f"x_{split}" in keys) != (f"y_{split}" in keys):
            raise ValueError(
                f"{who}: x_{split} and y_{split} must be given together, found "
                f"{sorted(keys)}"
            )


def _read_csv(path: Path, who: str) -> dict[str, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, strict=True)  # strict: unclosed quotes
            rows = [r for r in reader if any(c.strip() for c in r)]
    except UnicodeDecodeError as err:
        raise ValueError(f"{who}: malformed CSV, expected UTF-8 text: {err}") from None
    except csv.Error as err:  # e.g. an unclosed quote, a field over the size limit
        raise ValueError(f"{who}: malformed CSV: {err}") from None
    if not rows:
        raise ValueError(f"{who}: empty CSV; expected a header row x0,..,y0,..")
    header = [c.strip() for c in rows[0]]
    x_cols, y_cols, split_col = _csv_columns(header, who)
    values = np.empty((len(rows) - 1, len(x_cols) + len(y_cols)), dtype=np.float64)
    labels = []
    for i, row in enumerate(rows[1:]):
        line = i + 2
        if len(row) != len(header):
            raise ValueError(
                f"{who}: malformed CSV: line {line} has {len(row)} fields, the "
                f"header has {len(header)}"
            )
        for j, col in enumerate(x_cols + y_cols):
            values[i, j] = _csv_float(row[col], header[col], line, who)
        if split_col is not None:
            labels.append(_csv_split(row[split_col], line, who))
    x, y = values[:, : len(x_cols)], values[:, len(x_cols) :]
    if split_col is None:
        return {"x": x, "y": y}
    return _csv_splits(x, y, np.array(labels, dtype=object), who)


def _csv_columns(
    header: list[str], who: str
) -> tuple[list[int], list[int], int | None]:
    """Column indices of x0.., y0.. (sorted by number) and of ``split``."""
    found: dict[str, dict[int, int]] = {"x": {}, "y": {}}
    split_col = None
    for col, name in enumerate(header):
        m = _COLUMN.fullmatch(name)
        if name == "split" and split_col is None:
            split_col = col
        elif m and int(m.group(2)) not in found[m.group(1)]:
            found[m.group(1)][int(m.group(2))] = col
        else:
            raise ValueError(
                f"{who}: malformed CSV header: unexpected or repeated column "
                f"{name!r}; expected x0..x{{n-1}}, y0..y{{m-1}} and optional 'split'"
            )
    for kind, cols in found.items():
        if sorted(cols) != list(range(len(cols))) or not cols:
            raise ValueError(
                f"{who}: malformed CSV header: {kind} columns must be "
                f"{kind}0..{kind}{{k-1}} with none missing, got "
                f"{[f'{kind}{i}' for i in sorted(cols)]}"
            )
    by_index = {k: [v[i] for i in sorted(v)] for k, v in found.items()}
    return by_index["x"], by_index["y"], split_col


def _csv_float(text: str, column: str, line: int, who: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{who}: malformed CSV: line {line}, column {column!r}: {text!r} is "
            "not a number"
        ) from None


def _csv_split(text: str, line: int, who: str) -> str:
    label = text.strip()
    if label not in _SPLIT_VALUES:
        raise ValueError(
            f"{who}: malformed CSV: line {line}, column 'split': expected one of "
            f"{_SPLIT_VALUES}, got {text!r}"
        )
    return label


def _csv_splits(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, who: str
) -> dict[str, np.ndarray]:
    out = {}
    for split in _SPLIT_VALUES:
        mask = labels == split
        suffix = "" if split == "train" else f"_{split}"
        if mask.any() or split == "train":
            out[f"x{suffix}"], out[f"y{suffix}"] = x[mask], y[mask]
    return out


def _as_matrix(array: np.ndarray, key: str, who: str) -> np.ndarray:
    """Check a numeric 2-D (or 1-D ``y``) array and return it as float32."""
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{who}: {key} must be numeric, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise ValueError(f"{who}: {key} must be real, got dtype {array.dtype}")
    if key.startswith("y") and array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"{who}: {key} must be 2-D (samples, features), got shape {array.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        out = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(
            f"{who}: {key} contains NaN or inf (after conversion to float32); "
            "expected finite values of magnitude below 3.4e38"
        )
    return out


def _check_arrays(
    arrays: dict[str, np.ndarray], reps: tuple[Rep, Rep], who: str
) -> None:
    rep_in, rep_out = reps
    for suffix in ("", "_val", "_test"):
        if f"x{suffix}" not in arrays:
            continue
        x, y = arrays[f"x{suffix}"], arrays[f"y{suffix}"]
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{who}: x{suffix} has {x.shape[0]} rows but y{suffix} has "
                f"{y.shape[0]}; expected the same number of samples"
            )
        for key, arr, rep, what in (
            (f"x{suffix}", x, rep_in, "rep_in"),
            (f"y{suffix}", y, rep_out, "rep_out"),
        ):
            if arr.shape[1] != rep.dim:
                raise ValueError(
                    f"{who}: {key} has {arr.shape[1]} features per row, but "
                    f"{what} {rep} has dim {rep.dim} ({rep.group.name})"
                )


def _split(
    arrays: dict[str, np.ndarray],
    fractions: tuple[float, float],
    seed: int,
    who: str,
) -> dict[str, np.ndarray]:
    """Carve missing validation/test splits out of x, y with a seeded permutation."""
    x, y = arrays["x"], arrays["y"]
    n = x.shape[0]
    missing = [s for s in ("val", "test") if f"x_{s}" not in arrays]
    sizes = {s: round(f * n) for s, f in zip(("val", "test"), fractions, strict=True)}
    perm = torch.randperm(n, generator=seeded(seed)).numpy()
    out, start = {}, 0
    for split in missing:
        index = perm[start : start + sizes[split]]
        out[f"x_{split}"], out[f"y_{split}"] = x[index], y[index]
        start += sizes[split]
    rest = np.sort(perm[start:]) if missing else np.arange(n)
    out["x_train"], out["y_train"] = x[rest], y[rest]
    for split in ("val", "test"):
        if split not in missing:
            out[f"x_{split}"], out[f"y_{split}"] = (
                arrays[f"x_{split}"],
                arrays[f"y_{split}"],
            )
    for key in ("x_train", "x_val", "x_test"):
        if out[key].shape[0] == 0:
            raise ValueError(
                f"{who}: the {key[2:]} split is empty ({n} pooled samples, "
                f"fractions val {fractions[0]}, test {fractions[1]}); expected "
                "at least one sample in each split"
            )
    return {k: np.ascontiguousarray(v) for k, v in out.items()}
