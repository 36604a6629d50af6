"""Atomic checkpoint writes and safe (`weights_only`) loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .._atomic import save_atomic

__all__ = ["load_checkpoint", "save_atomic"]


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True`: tensors and plain containers only,
    never arbitrary pickled code."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"refusing to load checkpoint {path}: {err}") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} does not hold a dict")
    return state
