"""Relative-error tolerances per check and dtype (the table in STYLE.md §6)."""

from __future__ import annotations

import torch

#: `TOL[check][dtype]`: the largest acceptable relative error.
TOL: dict[str, dict[torch.dtype, float]] = {
    "layer": {torch.float64: 1e-9, torch.float32: 1e-5},
    "model": {torch.float64: 1e-8, torch.float32: 1e-4},
}


def tolerance(check: str, dtype: torch.dtype) -> float:
    """Look up `TOL[check][dtype]` with a clear error for unknown keys."""
    if check not in TOL:
        raise ValueError(
            f"unknown tolerance check {check!r}; expected one of {sorted(TOL)}"
        )
    if dtype not in TOL[check]:
        raise ValueError(f"no tolerance for dtype {dtype}; expected float32 or float64")
    return TOL[check][dtype]
