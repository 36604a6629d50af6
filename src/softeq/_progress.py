"""Optional tqdm progress bars, shared by the trainer, the bench grid and the Waymo
converter's command line.

tqdm is an optional extra (``cli``): without it, or without a terminal to draw
on, callers get None and skip their progress updates.
"""

from __future__ import annotations

from typing import Any


def progress_bar(
    *, total: float | None, desc: str, initial: float = 0, **kwargs: Any
) -> Any | None:
    """A `tqdm.auto.tqdm` bar, or None when tqdm is missing or the bar is disabled.

    Args:
        total: Number of expected steps (None: unknown).
        desc: Text shown before the bar.
        initial: Steps already done (a resumed run).
        **kwargs: Passed on to tqdm. ``disable`` defaults to None: no bar when
            the output (``file``, by default stderr) is not a terminal, e.g. in
            logs and CI.

    Returns:
        The bar (call ``update`` and ``close``, or use it as a context manager),
        or None when nothing would be drawn.
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are an optional extra
        return None
    kwargs.setdefault("disable", None)
    bar = tqdm(total=total, initial=initial, desc=desc, **kwargs)
    return None if bar.disable else bar
