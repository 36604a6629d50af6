"""Atomic checkpoint writes and safe (`weights_only`) loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._atomic import save_atomic, verify

__all__ = ["load_checkpoint", "save_atomic"]

# What `Trainer.resume` and `softeq eval` read from a checkpoint.
_COUNTERS = ("epoch", "metrics_lines")
_STATE_DICTS = ("model", "optimizer", "tuner", "config")
_GENERATORS = ("shuffle", "orbit_samples")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a `Trainer` checkpoint safely.

    The file is read with `weights_only=True` (tensors and plain containers only,
    never arbitrary pickled code), its integrity trailer is checked when it has
    one (see `softeq.train.save_atomic`), and its layout is checked before any
    value is used.

    Raises:
        ValueError: One line naming the file, for a missing, truncated,
            corrupted, unsafe (pickled code) or malformed checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        verify(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for damaged or unsafe files
        reason = " ".join(str(err).split())[:300]
        raise ValueError(
            f"refusing to load checkpoint {path}: {type(err).__name__}: {reason}"
        ) from None
    problem = _layout_problem(state)
    if problem is not None:
        raise ValueError(
            f"checkpoint {path} is not a softeq training checkpoint: {problem}"
        )
    return state


def _layout_problem(state: Any) -> str | None:
    """What keeps `state` from being a `Trainer._state()`, or None."""
    if not isinstance(state, dict):
        return f"expected a dict, got {type(state).__name__}"
    keys = (*_COUNTERS, *_STATE_DICTS, *_GENERATORS, "best")
    missing = [k for k in keys if k not in state]
    if missing:
        return f"missing keys {missing}"
    for key in _COUNTERS:
        value = state[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{key} must be an integer >= 0, got {value!r}"
    # "stopping" (the early-stopping state) is absent from checkpoints written
    # before softeq had it; `Trainer.resume` rebuilds it from "bad_epochs" then
    for key in (*_STATE_DICTS, *(["stopping"] if "stopping" in state else [])):
        if not isinstance(state[key], dict):
            return f"{key} must be a dict, got {type(state[key]).__name__}"
    for key in _GENERATORS:
        if not isinstance(state[key], Tensor) or state[key].dtype != torch.uint8:
            return f"{key} must be a generator state (a uint8 tensor)"
    return _models_problem(state)


def _models_problem(state: dict[str, Any]) -> str | None:
    if not all(isinstance(v, Tensor) for v in state["model"].values()):
        return "model must map parameter names to tensors"
    best = state["best"]
    if best is None:
        return None
    ok = isinstance(best, dict) and isinstance(best.get("epoch"), int)
    if not ok or not isinstance(best.get("model"), dict):
        return "best must be None or a dict with 'epoch' and 'model'"
    if not all(isinstance(v, Tensor) for v in best["model"].values()):
        return "best model must map parameter names to tensors"
    return None
