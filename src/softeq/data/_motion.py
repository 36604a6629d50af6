"""The motion-forecasting protocol: windowed 3-D trajectories in, a `Task` out.

Layout of a motion ``.npz`` (shared by the shipped data sets and the Waymo reader):

| key | dtype, shape | meaning |
|---|---|---|
| ``past`` | float32 `(n, T_past, k, 3)` | observed positions, oldest first |
| ``future`` | float32 `(n, T_future, k, 3)` | positions to forecast |
| ``split`` | int8 `(n,)` | 0 train, 1 validation, 2 test |
| ``units`` | 0-d str | length unit, e.g. ``"m"`` |
| ``dt`` | 0-d float | seconds per step |
| ``vertical_axis`` | 0-d int | axis of gravity (0, 1, 2) or -1 if none |
| ``names`` | str `(k,)`, optional | one name per point (joint, body, agent) |

The protocol uses $T_{past} = T_{future} = 6$; `k` points per step (one agent for
Waymo, 15 joints for mocap, 9 planets for orbits).
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._motion_metrics import MotionMetrics
from ._task import Task, check_seed, seeded

#: Candidate groups of motion tasks: O(3) and the O(2)'s about x, y and z.
MOTION_GROUPS = ("O3", "O2x", "O2y", "O2z")
#: ``normalisation`` options of `motion_task`.
NORMALISATIONS = ("symmetry-aware", "scale-aware")
#: ``centring`` options of `motion_task`.
CENTRINGS = ("past", "all-points-parity")
#: ``target`` options of `motion_task`: future positions, or their residual to the
#: constant-velocity extrapolation of the past (`constant_velocity`).
TARGETS = ("positions", "residual")
#: Meaning of the ``split`` codes 0, 1, 2.
SPLITS = ("train", "val", "test")
_REQUIRED = ("past", "future", "split", "units", "dt", "vertical_axis")


@dataclass(frozen=True, eq=False)
class MotionData:
    """Windowed trajectories with their splits and units, validated on creation.

    Args:
        past: Observed positions `(n, T_past, k, 3)`, stored as float32.
        future: Positions to forecast `(n, T_future, k, 3)`, stored as float32.
        split: Split code per window `(n,)`: 0 train, 1 validation, 2 test.
        units: Length unit of the positions, e.g. ``"m"`` or ``"AU"``.
        dt: Seconds per step (> 0).
        vertical_axis: Axis of gravity, 0, 1 or 2; -1 if there is none.
        names: Optional name of each of the `k` points.

    Raises:
        ValueError: For wrong ndims or shapes (naming the expected ones), NaN or
            inf, split codes outside {0, 1, 2} or an empty split, a non-positive
            `dt`, a bad `vertical_axis`, or `names` of the wrong length.
    """

    past: np.ndarray
    future: np.ndarray
    split: np.ndarray
    units: str
    dt: float
    vertical_axis: int
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        past = _positions(self.past, "past")
        future = _positions(self.future, "future")
        if future.shape[0] != past.shape[0] or future.shape[2] != past.shape[2]:
            raise ValueError(
                f"motion data: future must have the n={past.shape[0]} windows and "
                f"k={past.shape[2]} points of past {past.shape}, got {future.shape}"
            )
        object.__setattr__(self, "past", past)
        object.__setattr__(self, "future", future)
        object.__setattr__(self, "split", _split_codes(self.split, past.shape[0]))
        _set_metadata(self, past.shape[2])

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of train, validation and test windows."""
        counts = np.bincount(self.split, minlength=3)
        return int(counts[0]), int(counts[1]), int(counts[2])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the compressed ``.npz`` layout of this module's docstring."""
        arrays: dict[str, Any] = {
            "past": self.past,
            "future": self.future,
            "split": self.split,
            "units": np.array(self.units),
            "dt": np.array(self.dt),
            "vertical_axis": np.array(self.vertical_axis),
        }
        if self.names is not None:
            arrays["names"] = np.array(self.names)
        np.savez_compressed(Path(path), **arrays)


def _positions(array: Any, key: str) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"motion data: {key} must be real numbers, got {array.dtype}")
    if array.ndim != 4 or array.shape[-1] != 3 or 0 in array.shape:
        raise ValueError(
            f"motion data: {key} must have shape (n, steps, points, 3) with no "
            f"empty dim, got {array.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        out = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"motion data: {key} contains NaN or inf (as float32)")
    return out


def _split_codes(split: Any, n: int) -> np.ndarray:
    split = np.asarray(split)
    if split.shape != (n,) or not np.issubdtype(split.dtype, np.integer):
        raise ValueError(
            f"motion data: split must be integers of shape ({n},) (one code per "
            f"window: 0 train, 1 val, 2 test), got {split.dtype} {split.shape}"
        )
    counts = np.bincount(split.clip(0, 3), minlength=4)
    if split.min() < 0 or counts[3] or not counts[:3].all():
        raise ValueError(
            "motion data: split codes must be 0 (train), 1 (val) or 2 (test) with "
            f"every split non-empty, got values {np.unique(split).tolist()}"
        )
    return split.astype(np.int8)


def _set_metadata(data: MotionData, k: int) -> None:
    units, dt, axis = data.units, data.dt, data.vertical_axis
    if not isinstance(units, str) or not units:
        raise ValueError(f"motion data: units must be a non-empty str, got {units!r}")
    if isinstance(dt, bool) or not isinstance(dt, Real) or not 0 < dt < math.inf:
        raise ValueError(
            f"motion data: dt must be seconds per step, finite and > 0, got {dt!r}"
        )
    if isinstance(axis, bool) or axis not in (-1, 0, 1, 2):
        raise ValueError(
            f"motion data: vertical_axis must be 0, 1, 2 or -1, got {axis!r}"
        )
    object.__setattr__(data, "dt", float(dt))
    object.__setattr__(data, "vertical_axis", int(axis))
    if data.names is not None:
        names = tuple(str(name) for name in data.names)
        if len(names) != k:
            raise ValueError(
                f"motion data: names must name the {k} points, got {len(names)}"
            )
        object.__setattr__(data, "names", names)


def load_motion(path: str | os.PathLike[str]) -> MotionData:
    """Read a motion ``.npz`` (never unpickled) into validated `MotionData`.

    Args:
        path: File in the layout of this module's docstring.

    Returns:
        The `MotionData`.

    Raises:
        ValueError: For a missing or unreadable file, a missing key, or any
            problem `MotionData` rejects; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"load_motion: no such file {str(path)!r}")
    try:
        # an open handle: np.load leaks its own on a corrupt zip
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            return motion_data_from_arrays({k: npz[k] for k in npz.files})
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, AttributeError) as err:
        raise ValueError(f"load_motion({path.name}): {err}") from None


def motion_data_from_arrays(arrays: Mapping[str, Any]) -> MotionData:
    """Build `MotionData` from a mapping with the ``.npz`` keys (0-d metadata
    arrays or plain Python values).

    Raises:
        ValueError: For a missing key, or anything `MotionData` rejects.
    """
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise ValueError(
            f"motion data: missing {missing}; expected keys {list(_REQUIRED)} "
            f"(optional 'names'), found {sorted(arrays)}"
        )
    meta = {k: _item(arrays[k]) for k in ("units", "dt", "vertical_axis")}
    names = arrays.get("names")
    return MotionData(
        past=arrays["past"],
        future=arrays["future"],
        split=arrays["split"],
        names=None if names is None else tuple(np.asarray(names).reshape(-1)),
        **meta,
    )


def _item(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        if value.size != 1:
            raise ValueError(
                f"motion data: expected a 0-d metadata array, got {value.shape}"
            )
        value = value.item()
    return value


def motion_task(
    source: str | os.PathLike[str] | Mapping[str, Any] | MotionData,
    *,
    normalisation: str = "symmetry-aware",
    centring: str = "past",
    name: str | None = None,
    groups: Sequence[str] = MOTION_GROUPS,
    truth: Mapping[str, str] | None = None,
    rotate_test: bool = False,
    seed: int = 0,
    target: str = "positions",
) -> Task:
    """Turn windowed trajectories into a forecasting `Task` with ADE/FDE metrics.

    Per window $n$, with positions $p_{ntk}$ (step $t$, point $k$):

    1. **Centring.** ``"past"``: subtract $c_n$, the mean of the *past* positions
       over steps and points (one translation per window; nothing of the future
       leaks into the input). ``"all-points-parity"``: $c_n$ over past *and*
       future, as the PER reference does on Waymo (the input then encodes the
       mean of the future); for parity runs only.
    2. **OOD test** (`rotate_test`): each test window is multiplied by its own
       Haar-random $g_n \\in O(3)$ (seeded by `seed`), in physical units.
    3. **Normalisation** by $\\sigma$, the root mean square of the centred
       *past* coordinates of the train split (so an input never depends on any
       future): ``"symmetry-aware"`` uses one scalar for all axes, so $O(3)$
       acts on the normalised data exactly as on the raw data; ``"scale-aware"``
       uses one per axis (breaking $O(3)$ when the axes' spreads differ, as in
       the reference's Waymo runs).
    4. **Target.** ``"positions"``: the future positions, centred and
       normalised like the past. ``"residual"``: their residual to the
       constant-velocity extrapolation of the past, $r = y - CV(x)$ with $CV$ the
       linear map of `constant_velocity`. $CV$ commutes with every linear map
       of the coordinates applied to all points and steps (each $g \\in O(3)$,
       the per-axis normalisation) and with translations, so $r$ is the same
       whether computed before or after centring and normalisation, and a
       forecaster $f$ is $G$-equivariant exactly when $f - CV$ is: the
       candidates' truth carries over unchanged. A model $h$ of $r$ forecasts
       $CV(x) + h(x)$, whose error $h(x) - r$ is that of the residual: `metrics`
       (ADE, FDE) and the MSE are those of the position forecast, so residual
       and position rows compare directly.
    5. **Flattening** time-major, then point, then xyz: rep ``{T k}*V``.

    Args:
        source: A motion ``.npz`` path, a mapping of its arrays, or `MotionData`.
        normalisation: ``"symmetry-aware"`` or ``"scale-aware"``.
        centring: ``"past"`` or ``"all-points-parity"``.
        name: Task name; ``motion:<file name>`` or ``motion`` if None.
        groups: Candidate group names.
        truth: Label per group; ``"unknown"`` for all if None.
        rotate_test: Rotate every test window by a random O(3) element.
        seed: Seed of those rotations.
        target: ``"positions"`` or ``"residual"`` (to constant velocity; needs
            at least 2 past steps).

    Returns:
        A `Task` with rep ``{T_past k}*V -> {T_future k}*V``, float32 splits and
        `metrics` a `MotionMetrics` (ADE, FDE in the data's units; its
        ``target`` says which target the task has).

    Raises:
        ValueError: For an unknown option or a negative seed, bad data (see
            `MotionData`), or a train split with zero spread.

    Example:
        >>> import numpy as np
        >>> t = np.arange(12.0)[None, :, None, None]
        >>> walks = t * np.array([1.0, 0.5, 0.0]) + np.arange(18.0).reshape(9, 1, 2, 1)
        >>> task = motion_task({"past": walks[:, :6], "future": walks[:, 6:],
        ...                     "split": [0, 0, 0, 0, 0, 1, 1, 2, 2], "units": "m",
        ...                     "dt": 0.2, "vertical_axis": 2})
        >>> task.rep_in, task.rep_out, task.sizes
        ('12*V', '12*V', (5, 2, 2))
        >>> task.metrics(task.y_test, task.y_test)
        {'ade': 0.0, 'fde': 0.0}
        >>> residual = motion_task({"past": walks[:, :6], "future": walks[:, 6:],
        ...                         "split": [0, 0, 0, 0, 0, 1, 1, 2, 2],
        ...                         "units": "m", "dt": 0.2, "vertical_axis": 2},
        ...                        target="residual")
        >>> float(residual.y_train.abs().max())  # straight lines: CV is exact
        0.0
    """
    _check_choice("normalisation", normalisation, NORMALISATIONS)
    _check_choice("centring", centring, CENTRINGS)
    _check_choice("target", target, TARGETS)
    seed = check_seed(seed, "motion_task")
    data = _as_motion_data(source)
    if target == "residual" and data.past.shape[1] < 2:
        raise ValueError(
            "motion_task: target='residual' needs at least 2 past steps for the "
            f"constant-velocity extrapolation, got {data.past.shape[1]}"
        )
    past = torch.from_numpy(data.past).to(torch.float64)
    future = torch.from_numpy(data.future).to(torch.float64)
    points = past if centring == "past" else torch.cat([past, future], dim=1)
    centre = points.mean(dim=(1, 2), keepdim=True)
    past, future = past - centre, future - centre
    split = torch.from_numpy(data.split.astype(np.int64))
    if rotate_test:
        past, future = _rotate(past, future, split == 2, seeded(seed))
    if target == "residual":
        future = future - constant_velocity(past, future.shape[1])
    scale = _scale(past[split == 0], normalisation)
    n, groups = len(split), tuple(groups)
    x = (past / scale).reshape(n, -1).to(torch.float32)
    y = (future / scale).reshape(n, -1).to(torch.float32)
    splits = {}
    for code, split_name in enumerate(SPLITS):
        mask = split == code
        splits[f"x_{split_name}"] = x[mask].contiguous()
        splits[f"y_{split_name}"] = y[mask].contiguous()
    T_past, T_future, k = data.past.shape[1], data.future.shape[1], data.past.shape[2]
    metrics = MotionMetrics(scale, n_steps=T_future, n_points=k, units=data.units,
                            dt=data.dt, target=target)  # fmt: skip
    return Task(
        name=name or _default_name(source),
        rep_in=f"{T_past * k}*V",
        rep_out=f"{T_future * k}*V",
        groups=groups,
        truth=dict(truth) if truth is not None else dict.fromkeys(groups, "unknown"),
        metrics=metrics,
        **splits,
    )


def variant_name(head: str, *, normalisation: str, target: str) -> str:
    """Registry name of a built-in motion task: `head` with ``:scale-aware`` and
    ``:residual`` appended when those options are set.

    Example:
        >>> variant_name("mocap", normalisation="scale-aware", target="residual")
        'mocap:scale-aware:residual'
    """
    parts = [head]
    if normalisation != "symmetry-aware":
        parts.append(normalisation)
    if target != "positions":
        parts.append(target)
    return ":".join(parts)


def constant_velocity(past: Tensor, n_future: int) -> Tensor:
    """Constant-velocity extrapolation of the last two past positions.

    For past positions $p_{-T+1}, \\dots, p_0$ (per point), the forecast
    $\\hat p_t = p_0 + t\\,(p_0 - p_{-1}) = (1 + t)\\,p_0 - t\\,p_{-1}$,
    $t = 1, \\dots, T_{future}$. It is linear in time only and acts as the
    identity on the coordinates, so $CV(g\\,p) = g\\,CV(p)$ for every linear
    $g$ of $\\mathbb{R}^3$ applied to all points (each element of O(3) and of
    its O(2)'s, a per-axis scaling); its coefficients sum to 1, so
    $CV(p + c) = CV(p) + c$ for a translation $c$.

    Args:
        past: Positions `(..., T_past, k, 3)` with `T_past >= 2`, oldest first.
        n_future: Number of future steps $T_{future} \\ge 1$.

    Returns:
        The forecast `(..., n_future, k, 3)`, dtype and device of `past`.

    Raises:
        ValueError: For fewer than 2 past steps, a last dim that is not 3, or
            `n_future < 1`.

    Example:
        >>> past = torch.tensor([[[0.0, 0.0, 0.0]], [[1.0, 2.0, 0.0]]])
        >>> constant_velocity(past, 2).squeeze(-2)
        tensor([[2., 4., 0.],
                [3., 6., 0.]])
    """
    if past.ndim < 3 or past.shape[-1] != 3 or past.shape[-3] < 2:
        raise ValueError(
            "constant_velocity expects positions (..., T_past >= 2, k, 3), got "
            f"{tuple(past.shape)}"
        )
    if isinstance(n_future, bool) or not isinstance(n_future, int) or n_future < 1:
        raise ValueError(f"constant_velocity: n_future must be an int >= 1, "
                         f"got {n_future!r}")  # fmt: skip
    last, before = past[..., -1:, :, :], past[..., -2:-1, :, :]
    ahead = torch.arange(1, n_future + 1, dtype=past.dtype, device=past.device)
    return last + ahead.view(-1, 1, 1) * (last - before)


def _check_choice(what: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"motion_task: {what} must be one of {choices}, got {value!r}")


def _as_motion_data(source: object) -> MotionData:
    if isinstance(source, MotionData):
        return source
    if isinstance(source, Mapping):
        return motion_data_from_arrays(source)
    if isinstance(source, str | os.PathLike):
        return load_motion(source)
    raise ValueError(
        "motion_task: source must be a .npz path, a mapping of arrays or "
        f"MotionData, got {type(source).__name__}"
    )


def _default_name(source: object) -> str:
    if isinstance(source, str | os.PathLike):
        return f"motion:{Path(source).name}"
    return "motion"


def random_orthogonal(n: int, generator: torch.Generator) -> Tensor:
    """Haar-random elements of O(3) (both determinants), float64 `(n, 3, 3)`.

    QR of a Gaussian matrix with the signs of $R$'s diagonal moved into $Q$
    (Mezzadri 2007, "How to generate random matrices from the classical
    compact groups").
    """
    z = torch.randn(n, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(z)
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)


def _rotate(
    past: Tensor, future: Tensor, mask: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Apply $p \\mapsto g_n p$ to the windows selected by `mask`."""
    gs = random_orthogonal(int(mask.sum()), generator)[:, None, None]
    past, future = past.clone(), future.clone()
    past[mask] = (gs @ past[mask].unsqueeze(-1)).squeeze(-1)
    future[mask] = (gs @ future[mask].unsqueeze(-1)).squeeze(-1)
    return past, future


def _scale(past: Tensor, normalisation: str) -> Tensor:
    """Root mean square of the centred train past coordinates `(n, T, k, 3)`:
    `(3,)`, equal entries when isotropic."""
    coords = past.reshape(-1, 3)
    if normalisation == "symmetry-aware":
        scale = coords.square().mean().sqrt().expand(3).clone()
    else:
        scale = coords.square().mean(dim=0).sqrt()
    if not (scale > 0).all():
        raise ValueError(
            "motion_task: the centred train coordinates have zero spread "
            f"(scale {scale.tolist()}); expected moving points"
        )
    return scale
