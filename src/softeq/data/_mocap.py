"""``mocap``: human motion capture (DeepMimic clips), 15 joints, z-up, metres."""

from __future__ import annotations

import numpy as np

from ._motion import MOTION_GROUPS, MotionData, motion_task, variant_name
from ._sequences import read_dataset, sliding_windows, window_starts
from ._task import Task

MOCAP_FILE = "mocap.npz"
N_PAST = N_FUTURE = 6
#: Time fractions of each clip for train, validation and test (in that order).
FRACTIONS = (0.70, 0.15, 0.15)
#: Gravity breaks every symmetry but rotations about, and reflections through, z.
TRUTH = {"O3": "broken", "O2x": "broken", "O2y": "broken", "O2z": "exact"}


def clip_segments(n_frames: int, span: int) -> list[tuple[int, int, int]]:
    """Contiguous ``(split code, start, stop)`` frame ranges of one clip.

    The clip is cut in time into train, validation and test (`FRACTIONS`), each
    part at least one window (`span` frames) long; a clip too short for three
    windows goes to train whole.

    Example:
        >>> clip_segments(100, 12)
        [(0, 0, 70), (1, 70, 85), (2, 85, 100)]
        >>> clip_segments(30, 12)
        [(0, 0, 30)]
    """
    n_val = max(round(FRACTIONS[1] * n_frames), span)
    n_test = max(round(FRACTIONS[2] * n_frames), span)
    n_train = n_frames - n_val - n_test
    if n_train < span:
        return [(0, 0, n_frames)]
    return [(0, 0, n_train), (1, n_train, n_train + n_val),
            (2, n_train + n_val, n_frames)]  # fmt: skip


def mocap_windows(stride: int = 1) -> dict[str, np.ndarray]:
    """Where each ``mocap`` window comes from: ``clip`` index, first ``frame``
    (within the clip) and ``split`` code, each `(n,)`, in storage order."""
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"mocap: stride must be an int >= 1, got {stride!r}")
    clip_start = read_dataset(MOCAP_FILE)["clip_start"]
    span = (N_PAST + N_FUTURE - 1) * stride + 1
    clip, frame, split = [], [], []
    for c, n_frames in enumerate(np.diff(clip_start)):
        for code, start, stop in clip_segments(int(n_frames), span):
            starts = window_starts(start, stop, span)
            clip.append(np.full(len(starts), c))
            frame.append(starts)
            split.append(np.full(len(starts), code))
    return {"clip": np.concatenate(clip), "frame": np.concatenate(frame),
            "split": np.concatenate(split).astype(np.int8)}  # fmt: skip


def mocap_data(stride: int = 1) -> MotionData:
    """The ``mocap`` windows: 6 past and 6 future poses of 15 joints.

    Args:
        stride: Frames of the 30 Hz sequences per step; 1 gives $dt = 1/30$ s.

    Returns:
        `MotionData` in metres, z up, names = the joint names.

    Raises:
        ValueError: For a stride that is not an int >= 1.
    """
    arrays = read_dataset(MOCAP_FILE)
    index = mocap_windows(stride)
    clip_start, positions = arrays["clip_start"], arrays["positions"]
    past, future = sliding_windows(
        positions, clip_start[index["clip"]] + index["frame"],
        n_past=N_PAST, n_future=N_FUTURE, stride=stride,
    )  # fmt: skip
    return MotionData(
        past=past,
        future=future,
        split=index["split"],
        units=str(arrays["units"]),
        dt=stride / float(arrays["fps"]),
        vertical_axis=int(arrays["vertical_axis"]),
        names=tuple(arrays["joints"].tolist()),
    )


def mocap(
    *,
    normalisation: str = "symmetry-aware",
    centring: str = "past",
    stride: int = 1,
    target: str = "positions",
    name: str | None = None,
) -> Task:
    """Forecast 6 future poses of a human from 6 past ones (DeepMimic mocap).

    Twenty motion clips (walk, run, jump, kicks, cartwheel, backflip, dances,
    get-ups, turns; ~40 s in all) from the ``pybullet`` package, turned into the
    positions of 15 joints by forward kinematics, resampled to 30 Hz, z up, in
    metres (``scripts/make_mocap.py``). Each clip is cut in time into train,
    validation and test (70/15/15, each part at least one window; the shortest
    clip, ``run``, is train only); windows start at every frame and never cross
    a cut. With ``stride=1``: 492/35/35 windows, $dt = 1/30$ s.

    Truth: O2z ``exact`` (physics is invariant under rotations about, and
    reflections through, the vertical), O3, O2x and O2y ``broken`` (gravity).

    Args:
        normalisation: ``"symmetry-aware"`` or ``"scale-aware"`` (`motion_task`).
        centring: ``"past"`` or ``"all-points-parity"`` (`motion_task`).
        stride: Frames per step of the 30 Hz sequences.
        target: ``"positions"`` or ``"residual"`` to constant velocity
            (`motion_task`).
        name: Task name if given; else ``mocap``, with ``:scale-aware`` and
            ``:residual`` appended for those options.

    Returns:
        A `Task` with rep ``90*V -> 90*V`` (6 steps x 15 joints), candidates O3,
        O2x, O2y, O2z, and ADE/FDE in metres as `metrics`.

    Raises:
        ValueError: For an unknown option or a bad stride.

    Example:
        >>> task = mocap()
        >>> task.rep_in, task.sizes, task.truth["O2z"]
        ('90*V', (492, 35, 35), 'exact')
    """
    return motion_task(
        mocap_data(stride),
        normalisation=normalisation,
        centring=centring,
        name=name or variant_name("mocap", normalisation=normalisation, target=target),
        groups=MOTION_GROUPS,
        truth=TRUTH,
        target=target,
    )
