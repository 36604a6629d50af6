"""Exact orthogonal projection onto equivariant linear maps, block by block."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..reps import Rep, Scalar
from ._cache import hom_basis, invariant_basis
from ._solve import dense_hom_constraints, nullspace

# A dense projector on vec(W) has (dim_in * dim_out)^2 entries: refuse beyond this.
DENSE_MAX_DIM = 4096


def _check_reps(rep_in: Rep, rep_out: Rep) -> None:
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Rep):
            raise ValueError(f"{name} must be a softeq Rep, got {type(rep).__name__}")
    if rep_in.group != rep_out.group:
        raise ValueError(
            f"rep_in and rep_out must share one group, got {rep_in.group.name} "
            f"({rep_in}) and {rep_out.group.name} ({rep_out})"
        )


def _slices(rep: Rep) -> list[tuple[slice, int, int]]:
    """Canonical `(slice, multiplicity, type dim)` of each distinct type of `rep`."""
    out, start, d = [], 0, rep.group.d
    for ttype, mult in rep.canonical_types():
        k = ttype.dim(d)
        out.append((slice(start, start + mult * k), mult, k))
        start += mult * k
    return out


def _blocks_to_rows(block: Tensor, mo: int, do: int, mi: int, di: int) -> Tensor:
    """`(..., mo*do, mi*di) -> (..., mo, mi, do*di)`: one vec per copy pair."""
    lead = block.shape[:-2]
    x = block.reshape(*lead, mo, do, mi, di).transpose(-3, -2)
    return x.reshape(*lead, mo, mi, do * di)


def _rows_to_blocks(rows: Tensor, mo: int, do: int, mi: int, di: int) -> Tensor:
    """Inverse of `_blocks_to_rows`."""
    lead = rows.shape[:-3]
    x = rows.reshape(*lead, mo, mi, do, di).transpose(-3, -2)
    return x.reshape(*lead, mo * do, mi * di)


class BlockProjector(nn.Module):
    """Orthogonal projector onto $Hom_G(\\rho_{in}, \\rho_{out})$, applied block-wise.

    Since $Hom_G(\\oplus_i V_i, \\oplus_j W_j) = \\oplus_{ij} Hom_G(V_i, W_j)$, the
    projection of $W$ is computed by regrouping $W$ into canonical type blocks and,
    for every pair of types, projecting each copy pair's sub-block with the cached
    type-pair basis $Q$: $\\mathrm{vec}(W_{ij}) \\mapsto Q Q^T \\mathrm{vec}(W_{ij})$,
    a pair of batched matmuls over all copies at once. No dense
    `dim(W) x dim(W)` matrix is ever formed. Biases project onto the G-invariant
    vectors of $\\rho_{out}$.

    Bases are non-persistent buffers: `.to(dtype/device)` moves them and they stay
    out of `state_dict`.

    Args:
        rep_in: Input representation.
        rep_out: Output representation (same group).

    Shape:
        `W`: `(..., rep_out.dim, rep_in.dim)`; `b`: `(..., rep_out.dim)`.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> P = BlockProjector(parse("5*V0+5*V", G), parse("V2", G))
        >>> P.rank, P.bias_rank
        (5, 1)
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        super().__init__()
        _check_reps(rep_in, rep_out)
        self.rep_in, self.rep_out = rep_in, rep_out
        group = rep_in.group
        self._in, self._out = _slices(rep_in), _slices(rep_out)
        for side, rep in (("in", rep_in), ("out", rep_out)):
            idx = rep.canonical_index()
            is_identity = torch.equal(idx, torch.arange(rep.dim))
            setattr(self, f"_permute_{side}", not is_identity)
            self.register_buffer(f"_idx_{side}", idx, persistent=False)
            self.register_buffer(f"_inv_{side}", torch.argsort(idx), persistent=False)
        in_types = [t for t, _ in rep_in.canonical_types()]
        out_types = [t for t, _ in rep_out.canonical_types()]
        self._ranks: dict[tuple[int, int], int] = {}
        for o, t_out in enumerate(out_types):
            for i, t_in in enumerate(in_types):
                Q = hom_basis(group, t_in, t_out)
                self._ranks[o, i] = Q.shape[1]
                self.register_buffer(f"_Q_{o}_{i}", Q.clone(), persistent=False)
            Qb = invariant_basis(group, t_out)
            self.register_buffer(f"_Qb_{o}", Qb.clone(), persistent=False)

    # -- sizes ------------------------------------------------------------------------

    @property
    def rank(self) -> int:
        """Dimension of the space of equivariant weight matrices."""
        return sum(
            self._out[o][1] * self._in[i][1] * r for (o, i), r in self._ranks.items()
        )

    @property
    def bias_rank(self) -> int:
        """Dimension of the space of invariant bias vectors."""
        return sum(
            m * getattr(self, f"_Qb_{o}").shape[1]
            for o, (_, m, _) in enumerate(self._out)
        )

    # -- coordinates ------------------------------------------------------------------

    def _check_weight(self, W: Tensor) -> None:
        shape = (self.rep_out.dim, self.rep_in.dim)
        if W.ndim < 2 or tuple(W.shape[-2:]) != shape:
            raise ValueError(
                f"weight for {self.rep_in} -> {self.rep_out} must have shape "
                f"(..., {shape[0]}, {shape[1]}), got {tuple(W.shape)}"
            )

    def _check_bias(self, b: Tensor) -> None:
        if b.ndim < 1 or b.shape[-1] != self.rep_out.dim:
            raise ValueError(
                f"bias for {self.rep_out} must have shape (..., {self.rep_out.dim}), "
                f"got {tuple(b.shape)}"
            )

    def _canonical(self, W: Tensor) -> Tensor:
        if self._permute_out:
            W = W.index_select(-2, self._idx_out)
        if self._permute_in:
            W = W.index_select(-1, self._idx_in)
        return W

    def _flat(self, Wc: Tensor) -> Tensor:
        if self._permute_out:
            Wc = Wc.index_select(-2, self._inv_out)
        if self._permute_in:
            Wc = Wc.index_select(-1, self._inv_in)
        return Wc

    def _project_canonical(self, Wc: Tensor) -> Tensor:
        rows = []
        for o, (so, mo, do) in enumerate(self._out):
            row = []
            for i, (si, mi, di) in enumerate(self._in):
                block = Wc[..., so, si]
                if self._ranks[o, i] == 0:
                    row.append(torch.zeros_like(block))
                    continue
                Q = getattr(self, f"_Q_{o}_{i}").to(Wc.dtype)
                coeff = _blocks_to_rows(block, mo, do, mi, di) @ Q
                row.append(_rows_to_blocks(coeff @ Q.T, mo, do, mi, di))
            rows.append(torch.cat(row, dim=-1))
        return torch.cat(rows, dim=-2)

    # -- public API -------------------------------------------------------------------

    def project(self, W: Tensor) -> Tensor:
        """$P W$: the nearest G-equivariant weight matrix in Frobenius norm.

        Shape:
            `W`: `(..., rep_out.dim, rep_in.dim)` -> same shape.
        """
        self._check_weight(W)
        return self._flat(self._project_canonical(self._canonical(W)))

    def project_bias(self, b: Tensor) -> Tensor:
        """$P_b b$: the nearest G-invariant bias vector.

        Shape:
            `b`: `(..., rep_out.dim)` -> same shape.
        """
        self._check_bias(b)
        bc = b.index_select(-1, self._idx_out) if self._permute_out else b
        parts = []
        for o, (so, mo, do) in enumerate(self._out):
            Qb = getattr(self, f"_Qb_{o}").to(b.dtype)
            copies = bc[..., so].reshape(*bc.shape[:-1], mo, do)
            parts.append(((copies @ Qb) @ Qb.T).reshape(*bc.shape[:-1], mo * do))
        out = torch.cat(parts, dim=-1)
        return out.index_select(-1, self._inv_out) if self._permute_out else out

    def residual(self, W: Tensor, b: Tensor | None = None) -> Tensor:
        """$\\tfrac12\\|W - PW\\|^2 (+ \\tfrac12\\|b - P_b b\\|^2)$, summed; a scalar.

        Norms are invariant under the canonical regrouping, so the weight term is
        evaluated without permuting back.
        """
        self._check_weight(W)
        Wc = self._canonical(W)
        total = 0.5 * (Wc - self._project_canonical(Wc)).square().sum()
        if b is not None:
            total = total + 0.5 * (b - self.project_bias(b)).square().sum()
        return total

    def forward(self, W: Tensor) -> Tensor:
        """Same as `project`."""
        return self.project(W)

    def extra_repr(self) -> str:
        return (
            f"{self.rep_in} -> {self.rep_out}, group={self.rep_in.group.name}, "
            f"rank={self.rank}, bias_rank={self.bias_rank}"
        )


def dense_basis(rep_in: Rep, rep_out: Rep) -> Tensor:
    """Orthonormal basis of $Hom_G(\\rho_{in}, \\rho_{out})$ on row-major `vec(W)`,
    solved densely from the full constraint matrix (a reference for tests).

    Returns:
        Float64 tensor of shape `(rep_out.dim * rep_in.dim, r)`.

    Raises:
        ValueError: If `rep_in.dim * rep_out.dim` exceeds `DENSE_MAX_DIM`.
    """
    _check_reps(rep_in, rep_out)
    n = rep_in.dim * rep_out.dim
    if n > DENSE_MAX_DIM:
        raise ValueError(
            f"dense solve of {rep_in} -> {rep_out} needs a {n}x{n} system, above "
            f"DENSE_MAX_DIM={DENSE_MAX_DIM}; use BlockProjector instead"
        )
    C = dense_hom_constraints(rep_in, rep_out)
    return nullspace(C, what=f"{rep_in.group.name} on {rep_in} -> {rep_out}")


def projector_matrix(rep_in: Rep, rep_out: Rep) -> Tensor:
    """Dense float64 projector $P = QQ^T$ acting on row-major `vec(W)`.

    `W` has shape `(rep_out.dim, rep_in.dim)`. Solved from the dense constraints,
    independently of the block solver, so it serves as a reference in tests.

    Returns:
        Float64 tensor of shape `(n, n)` with `n = rep_out.dim * rep_in.dim`.
    """
    Q = dense_basis(rep_in, rep_out)
    return Q @ Q.T


def bias_projector_matrix(rep_out: Rep) -> Tensor:
    """Dense float64 projector onto the G-invariant vectors of `rep_out`,
    `(rep_out.dim, rep_out.dim)`: the bias analogue of `projector_matrix`."""
    return projector_matrix(Scalar(rep_out.group), rep_out)
