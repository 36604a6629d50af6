"""Equivariance constraints and their null space, solved densely in float64."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from ..groups import Group, as_group
from ..reps import Rep, TensorType, batched_kron

logger = logging.getLogger(__name__)

#: A singular value $\sigma$ of the constraint matrix counts as zero when
#: $\sigma \le$ `NULLSPACE_RTOL` $\cdot \max(1, \sigma_{max})$. Exact constraints of the
#: built-in groups leave null singular values near 1e-14 and non-null ones above 1e-2.
NULLSPACE_RTOL = 1e-7

# Singular values between these relative bounds are ambiguous: logged as a warning.
_GAP_LOW, _GAP_HIGH = 1e-10, 1e-4


def constraint_stack(group: Group, rho, drho, n: int) -> Tensor:
    """Stack $d\\rho(A_i)$ and $\\rho(h_j) - I$ into one `(rows, n)` float64 matrix.

    Args:
        group: Provides the generators.
        rho: Callable mapping `(m, d, d)` elements to `(m, n, n)` matrices.
        drho: Callable mapping `(k, d, d)` algebra elements to `(k, n, n)` matrices.
        n: Dimension of the space constrained.
    """
    parts = []
    if group.lie_algebra.shape[0]:
        parts.append(drho(group.lie_algebra).reshape(-1, n))
    if group.discrete_generators.shape[0]:
        eye = torch.eye(n, dtype=torch.float64)
        parts.append((rho(group.discrete_generators) - eye).reshape(-1, n))
    if not parts:
        return torch.zeros(0, n, dtype=torch.float64)
    return torch.cat(parts)


def nullspace(C: Tensor, what: str = "constraints") -> Tensor:
    """Orthonormal basis of the null space of `C`, shape `(n, r)`, float64.

    Uses a dense SVD; see `NULLSPACE_RTOL` for the rank decision.
    """
    n = C.shape[-1]
    if C.shape[0] == 0:
        return torch.eye(n, dtype=torch.float64)
    S, Vh = _right_singular(C)
    s_full = torch.zeros(n, dtype=torch.float64)
    s_full[: S.numel()] = S
    scale = max(1.0, float(S.max())) if S.numel() else 1.0
    ambiguous = (s_full > _GAP_LOW * scale) & (s_full < _GAP_HIGH * scale)
    if ambiguous.any():
        logger.warning(
            "%s: singular values %s lie near the rank tolerance; the basis may be "
            "inexact (check the generators)",
            what,
            s_full[ambiguous].tolist(),
        )
    keep = s_full <= NULLSPACE_RTOL * scale
    return canonical_basis(Vh[keep].T)


#: Seed of the fixed Gaussian matrix that `canonical_basis` projects.
_CANONICAL_SEED = 20230601


def canonical_basis(Q: Tensor) -> Tensor:
    """The canonical orthonormal basis of the span of `Q`'s columns.

    An SVD returns *some* orthonormal basis of a null space; when singular values
    repeat (always, for a null space of dimension > 1) which one depends on the
    LAPACK build and the number of threads. Parameters stored as coordinates in
    that basis (`EquivariantLinear.theta`, the bilinear weights) would then mean a
    different map in another process. The span's projector $P = QQ^T$ is unique,
    so the basis from the Householder QR of $PZ$, for a fixed Gaussian $Z$
    `(n, r)` (seeded, drawn on the CPU), with the signs that make the diagonal of
    the triangular factor positive, depends only on the span, continuously.

    Args:
        Q: Orthonormal columns, float64 `(n, r)`.

    Returns:
        Float64 `(n, r)`, orthonormal, spanning the same subspace.
    """
    n, r = Q.shape
    if r == 0:
        return Q.contiguous()
    generator = torch.Generator().manual_seed(_CANONICAL_SEED)
    Z = torch.randn(n, r, dtype=torch.float64, generator=generator)
    basis, tri = torch.linalg.qr(Q @ (Q.T @ Z))
    signs = torch.sign(torch.diagonal(tri))
    signs[signs == 0] = 1.0
    return (basis * signs).contiguous()


def _right_singular(C: Tensor) -> tuple[Tensor, Tensor]:
    """Singular values and all `n` right singular vectors (rows) of `C` `(rows, n)`.

    A tall `C` is first reduced to its `(n, n)` triangular factor $R$ (`C = QR`,
    same null space and singular values): faster, and LAPACK's divide-and-conquer
    SVD can fail to converge on tall constraint stacks with many repeated singular
    values (seen for O(5) on single-threaded CPU). If it still fails, the SVD of
    $C^T$ gives the same vectors as its left factor.
    """
    if C.shape[0] > C.shape[1]:
        C = torch.linalg.qr(C, mode="r")[1]
    try:
        _, S, Vh = torch.linalg.svd(C, full_matrices=True)
    except torch.linalg.LinAlgError:
        U, S, _ = torch.linalg.svd(C.T, full_matrices=True)
        Vh = U.T
    return S, Vh


def solve_invariants(group: Group | str, ttype: TensorType) -> Tensor:
    """Orthonormal basis `Q` of the G-invariant vectors of a tensor type.

    $v$ is invariant iff $d\\rho(A_i) v = 0$ for every Lie generator and
    $(\\rho(h_j) - I) v = 0$ for every discrete generator. `group` is a `Group` or
    a registry name.

    Returns:
        Float64 tensor of shape `(d^rank, r)` with orthonormal columns.

    Example:
        One O(3)-invariant in $V \\otimes V$ (the identity), none in $V$:

        >>> from softeq.reps import TensorType
        >>> solve_invariants("O3", TensorType.of(2)).shape
        torch.Size([9, 1])
        >>> solve_invariants("O3", TensorType.of(1)).shape
        torch.Size([3, 0])
    """
    group = as_group(group)
    n = ttype.dim(group.d)
    C = constraint_stack(group, ttype.rho, ttype.drho, n)
    Q = nullspace(C, what=f"{group.name} on {ttype}")
    logger.debug("solved %s on %s: rank %d of %d", group.name, ttype, Q.shape[1], n)
    return Q


def hom_type(type_in: TensorType, type_out: TensorType) -> TensorType:
    """The type of $Hom(T_{in}, T_{out}) \\cong T_{out} \\otimes T_{in}^*$.

    Row-major `vec(W)` of `W (dim_out, dim_in)` is exactly this tensor's layout, and
    $\\rho_{out}(g) W \\rho_{in}(g)^{-1}$ is its action.
    """
    return type_out * type_in.dual()


def dense_hom_constraints(rep_in: Rep, rep_out: Rep) -> Tensor:
    """Dense constraint matrix on row-major `vec(W)` for `W: rep_in -> rep_out`.

    Row-major vec turns $M W N$ into $(M \\otimes N^T) \\mathrm{vec}(W)$, so
    $d\\rho_{out}(A) W - W d\\rho_{in}(A)$ is
    $d\\rho_{out}(A) \\otimes I - I \\otimes d\\rho_{in}(A)^T$ and
    $\\rho_{out}(h) W \\rho_{in}(h)^{-1} - W$ is
    $\\rho_{out}(h) \\otimes \\rho_{in}(h)^{-T} - I$.
    """
    n_in, n_out = rep_in.dim, rep_out.dim
    eye_in = torch.eye(n_in, dtype=torch.float64)
    eye_out = torch.eye(n_out, dtype=torch.float64)

    def drho(A: Tensor) -> Tensor:
        k = A.shape[0]
        left = batched_kron(rep_out.drho(A), eye_in.expand(k, n_in, n_in))
        right = batched_kron(
            eye_out.expand(k, n_out, n_out), rep_in.drho(A).transpose(-1, -2)
        )
        return left - right

    def rho(h: Tensor) -> Tensor:
        inv_t = torch.linalg.inv(rep_in.rho(h)).transpose(-1, -2)
        return batched_kron(rep_out.rho(h), inv_t)

    return constraint_stack(rep_in.group, rho, drho, n_in * n_out)
