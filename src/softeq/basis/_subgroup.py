"""Check that one group lies inside another, from generators and invariants."""

from __future__ import annotations

import torch

from ..groups import Group
from ..reps import TensorType
from ._cache import invariant_basis

# Tensor types whose invariants a subgroup's discrete generators must fix.
_PROBE_TYPES = [
    TensorType(f)
    for f in [("V", "V*"), ("V", "V"), ("V*", "V*"), ("V", "V", "V"), ("V*",) * 3]
]


def _in_span(A: torch.Tensor, basis: torch.Tensor, atol: float) -> bool:
    """Whether every `(d, d)` matrix in `A` lies in the span of `basis` `(k, d, d)`."""
    if A.shape[0] == 0:
        return True
    if basis.shape[0] == 0:
        return bool(A.abs().max() <= atol)
    B = basis.reshape(basis.shape[0], -1).T
    target = A.reshape(A.shape[0], -1).T
    coef = torch.linalg.lstsq(B, target).solution
    return bool(
        (B @ coef - target).abs().max() <= atol * max(1.0, float(target.abs().max()))
    )


def is_subgroup(H: Group, G: Group, *, atol: float = 1e-9) -> bool:
    """Whether $H \\subseteq G$, checked through necessary conditions.

    1. Every Lie-algebra generator of $H$ lies in the span of $G$'s Lie algebra.
    2. Every discrete generator $h$ of $H$ fixes each $G$-invariant tensor of the
       types V⊗V*, V⊗V, V*⊗V*, V⊗V⊗V and V*⊗V*⊗V* (for $G$ = O(3) this is
       orthogonality, for SO(3) orthogonality and unit determinant).
    3. If every element of $G$ has positive determinant (all of its discrete
       generators do; exponentials always do), so does every generator of $H$.

    These hold for every true subgroup; for the classical groups used as candidates
    they are also sufficient. A group is a subgroup of itself.

    Args:
        H: Candidate subgroup.
        G: The larger group.
        atol: Absolute tolerance of both checks.
    """
    if H.d != G.d:
        return False
    if H == G:
        return True
    if not _in_span(H.lie_algebra, G.lie_algebra, atol):
        return False
    if (torch.linalg.det(G.discrete_generators) > 0).all():
        if (torch.linalg.det(H.discrete_generators) <= 0).any():
            return False
    for ttype in _PROBE_TYPES:
        Q = invariant_basis(G, ttype)
        if Q.shape[1] == 0 or H.discrete_generators.shape[0] == 0:
            continue
        moved = ttype.rho(H.discrete_generators) @ Q
        if (moved - Q).abs().max() > atol * 1e3:
            return False
    return True
