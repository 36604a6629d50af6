"""Shipped trajectory files and sliding windows over continuous sequences."""

from __future__ import annotations

from importlib.resources import files

import numpy as np


def read_dataset(file_name: str) -> dict[str, np.ndarray]:
    """All arrays of ``softeq/data/datasets/<file_name>`` (read without pickles).

    Found through `importlib.resources`, so it works from a source checkout, an
    editable install and a wheel alike.

    Raises:
        ValueError: If the package holds no such file.
    """
    resource = files("softeq.data").joinpath("datasets", file_name)
    if not resource.is_file():
        raise ValueError(
            f"shipped data set {file_name!r} is missing from softeq/data/datasets; "
            "reinstall softeq or regenerate it with scripts/ (see its README.md)"
        )
    with resource.open("rb") as handle, np.load(handle, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def window_starts(start: int, stop: int, span: int) -> np.ndarray:
    """First frames of every window of `span` frames inside ``[start, stop)``.

    Example:
        >>> window_starts(10, 15, 3).tolist()
        [10, 11, 12]
    """
    return np.arange(start, max(start, stop - span + 1))


def sliding_windows(
    sequence: np.ndarray,
    starts: np.ndarray,
    *,
    n_past: int,
    n_future: int,
    stride: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut past/future windows out of one continuous sequence.

    Window $i$ holds frames $s_i + \\text{stride}\\cdot j$ for
    $j = 0, \\ldots, n_{past} + n_{future} - 1$: the first `n_past` are its past,
    the rest its future.

    Args:
        sequence: Positions `(frames, k, 3)`.
        starts: First frame of each window `(n,)`; every window must fit.
        n_past: Past steps per window.
        n_future: Future steps per window.
        stride: Frames per step.

    Returns:
        `(past, future)`, shapes `(n, n_past, k, 3)` and `(n, n_future, k, 3)`.

    Example:
        >>> seq = np.arange(8.0).reshape(8, 1, 1) * np.ones(3)
        >>> past, future = sliding_windows(seq, np.array([0, 1]), n_past=2,
        ...                                n_future=1, stride=3)
        >>> past[1, :, 0, 0].tolist(), future[1, :, 0, 0].tolist()
        ([1.0, 4.0], [7.0])
    """
    offsets = stride * np.arange(n_past + n_future)
    frames = sequence[starts[:, None] + offsets[None, :]]
    return frames[:, :n_past], frames[:, n_past:]
