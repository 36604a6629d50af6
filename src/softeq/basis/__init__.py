"""Equivariant bases and exact, block-structured orthogonal projectors.

Bases are solved once per (group, tensor type) in float64 and cached in memory (and
on disk under `SOFTEQ_CACHE_DIR` when set); `BlockProjector` applies them block-wise.
"""

from ._cache import cache_dir, cache_size, clear_cache, hom_basis, invariant_basis
from ._multi import MultiProjector
from ._prior_traces import prior_traces
from ._projector import (
    DENSE_MAX_DIM,
    BlockProjector,
    bias_projector_matrix,
    dense_basis,
    projector_matrix,
)
from ._solve import NULLSPACE_RTOL, canonical_basis, hom_type, solve_invariants
from ._stack import ProjectorStack
from ._subgroup import is_subgroup

__all__ = [
    "DENSE_MAX_DIM",
    "NULLSPACE_RTOL",
    "BlockProjector",
    "MultiProjector",
    "ProjectorStack",
    "bias_projector_matrix",
    "cache_dir",
    "cache_size",
    "clear_cache",
    "dense_basis",
    "hom_basis",
    "hom_type",
    "invariant_basis",
    "is_subgroup",
    "prior_traces",
    "projector_matrix",
    "solve_invariants",
    "canonical_basis",
]
