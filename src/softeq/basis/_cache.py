"""Cached bases: in memory, and on disk when `SOFTEQ_CACHE_DIR` is set."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import Tensor

from .._atomic import save_atomic, verify
from ..groups import Group, as_group
from ..reps import TensorType
from ._solve import hom_type, solve_invariants

logger = logging.getLogger(__name__)

# 2: bases in the canonical form of `canonical_basis` (version 1 was the raw SVD's).
_FORMAT_VERSION = 2
# Keyed by (group name, group fingerprint, tensor word); values are float64 bases.
_MEMORY: dict[tuple[str, str, tuple[str, ...]], Tensor] = {}


def cache_dir() -> Path | None:
    """The disk cache folder (`SOFTEQ_CACHE_DIR`), or None when disk caching is off."""
    path = os.environ.get("SOFTEQ_CACHE_DIR")
    return Path(path).expanduser() if path else None


def _disk_path(folder: Path, group: Group, ttype: TensorType) -> Path:
    word = "".join("d" if f == "V*" else "v" for f in ttype.factors) or "s"
    safe = "".join(c if c.isalnum() else "_" for c in group.name)
    return folder / f"basis-v{_FORMAT_VERSION}-{safe}-{group.fingerprint}-{word}.pt"


def _load(path: Path) -> Tensor | None:
    try:
        verify(path)  # a file changed after it was written is never trusted
        Q = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except Exception as err:  # a corrupt cache file is re-solved, never trusted
        logger.warning("ignoring unreadable basis cache file %s: %s", path, err)
        return None
    if not isinstance(Q, Tensor) or Q.dtype != torch.float64 or Q.ndim != 2:
        logger.warning("ignoring malformed basis cache file %s", path)
        return None
    return Q


def invariant_basis(group: Group | str, ttype: TensorType) -> Tensor:
    """Cached orthonormal basis of the G-invariant vectors of `ttype`
    (`solve_invariants`); `group` is a `Group` or a registry name.

    Returns:
        Float64 tensor of shape `(d^rank, r)`; treat it as read-only.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import TensorType
        >>> Q = invariant_basis("O2z", TensorType.of(1))  # the z axis
        >>> Q.shape, invariant_basis(get("O2z"), TensorType.of(1)) is Q
        (torch.Size([3, 1]), True)
    """
    group = as_group(group)
    key = (group.name, group.fingerprint, ttype.factors)
    if (Q := _MEMORY.get(key)) is not None:
        return Q
    folder = cache_dir()
    path = _disk_path(folder, group, ttype) if folder else None
    Q = _load(path) if path else None
    if Q is None or Q.shape[0] != ttype.dim(group.d):
        Q = solve_invariants(group, ttype)
        if path:
            save_atomic(Q, path)
    _MEMORY[key] = Q
    return Q


def hom_basis(group: Group | str, type_in: TensorType, type_out: TensorType) -> Tensor:
    """Cached basis of $Hom_G(T_{in}, T_{out})$ on row-major `vec(W)`; `group` is a
    `Group` or a registry name.

    Returns:
        Float64 tensor of shape `(dim_out * dim_in, r)` with orthonormal columns.
    """
    return invariant_basis(group, hom_type(type_in, type_out))


def clear_cache(*, disk: bool = True) -> None:
    """Empty the in-memory cache and, if `disk`, delete the on-disk cache files."""
    _MEMORY.clear()
    folder = cache_dir()
    if disk and folder and folder.is_dir():
        for path in folder.glob(f"basis-v{_FORMAT_VERSION}-*.pt"):
            path.unlink(missing_ok=True)


def cache_size() -> int:
    """Number of bases held in memory."""
    return len(_MEMORY)
