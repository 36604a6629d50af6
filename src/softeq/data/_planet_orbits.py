"""``orbits``: heliocentric positions of the nine planets (JPL DE421), 1900-2050."""

from __future__ import annotations

import numpy as np

from ._motion import MOTION_GROUPS, MotionData, motion_task, variant_name
from ._sequences import read_dataset, sliding_windows, window_starts
from ._task import Task

ORBITS_FILE = "orbits.npz"
N_PAST = N_FUTURE = 6
#: Split boundaries (Julian dates, TDB): 2000-01-01 and 2025-01-01.
SPLIT_JD = (2451544.5, 2460676.5)
#: Newtonian gravity is O(3)-equivariant: every candidate holds.
TRUTH = dict.fromkeys(MOTION_GROUPS, "exact")
_DAY = 86400.0


def orbits_windows() -> dict[str, np.ndarray]:
    """First epoch index ``frame`` and ``split`` code of every ``orbits`` window,
    each `(n,)`, in time order."""
    arrays = read_dataset(ORBITS_FILE)
    n_epochs = arrays["positions"].shape[0]
    jd = float(arrays["start_jd"]) + float(arrays["step_days"]) * np.arange(n_epochs)
    cuts = [0, *np.searchsorted(jd, SPLIT_JD).tolist(), n_epochs]
    span = N_PAST + N_FUTURE
    frame = [window_starts(cuts[i], cuts[i + 1], span) for i in range(3)]
    split = [np.full(len(f), code, dtype=np.int8) for code, f in enumerate(frame)]
    return {"frame": np.concatenate(frame), "split": np.concatenate(split)}


def orbits_data() -> MotionData:
    """The ``orbits`` windows: 6 past and 6 future positions of 9 planets.

    Returns:
        `MotionData` in AU, $dt$ = 10 days, no vertical axis (the ecliptic pole
        is z), names = the bodies.
    """
    arrays = read_dataset(ORBITS_FILE)
    index = orbits_windows()
    past, future = sliding_windows(
        arrays["positions"], index["frame"], n_past=N_PAST, n_future=N_FUTURE, stride=1
    )
    return MotionData(
        past=past,
        future=future,
        split=index["split"],
        units=str(arrays["units"]),
        dt=float(arrays["step_days"]) * _DAY,
        vertical_axis=int(arrays["vertical_axis"]),
        names=tuple(arrays["bodies"].tolist()),
    )


def orbits(
    *,
    normalisation: str = "symmetry-aware",
    centring: str = "past",
    rotate_test: bool = False,
    seed: int = 0,
    target: str = "positions",
    name: str | None = None,
) -> Task:
    """Forecast the planets 60 days ahead from their last 60 days (JPL DE421).

    Heliocentric positions of the barycentres of Mercury, Venus, Earth-Moon,
    Mars, Jupiter, Saturn, Uranus, Neptune and Pluto every 10 days from 1900 to
    2050, in AU, J2000 ecliptic axes (``scripts/make_orbits.py``). Splits are
    contiguous in time: windows inside 1900-2000 train, 2000-2025 validation,
    2025-2050 test (3642/902/902).

    Truth: all of O3, O2x, O2y, O2z ``exact`` (Newtonian dynamics are
    O(3)-equivariant; DE421's small unmodelled terms, e.g. asteroids, are
    ignored). The data lie near the ecliptic (z = 0), so `rotate_test` makes an
    out-of-distribution test split: every test window is rotated by its own
    random O(3) element (seeded by `seed`).

    Args:
        normalisation: ``"symmetry-aware"`` or ``"scale-aware"`` (`motion_task`).
        centring: ``"past"`` or ``"all-points-parity"`` (`motion_task`).
        rotate_test: Rotate the test windows (out of distribution).
        seed: Seed of the test rotations.
        target: ``"positions"`` or ``"residual"`` to constant velocity
            (`motion_task`).
        name: Task name if given; else ``orbits``, with ``:rotated``,
            ``:scale-aware`` and ``:residual`` appended for those options.

    Returns:
        A `Task` with rep ``54*V -> 54*V`` (6 steps x 9 planets), candidates O3,
        O2x, O2y, O2z, and ADE/FDE in AU as `metrics`.

    Raises:
        ValueError: For an unknown option or a negative seed.

    Example:
        >>> task = orbits()
        >>> task.rep_out, task.sizes
        ('54*V', (3642, 902, 902))
    """
    head = "orbits:rotated" if rotate_test else "orbits"
    return motion_task(
        orbits_data(),
        normalisation=normalisation,
        centring=centring,
        name=name or variant_name(head, normalisation=normalisation, target=target),
        groups=MOTION_GROUPS,
        truth=TRUTH,
        rotate_test=rotate_test,
        seed=seed,
        target=target,
    )
