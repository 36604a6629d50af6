"""Exact orthogonal projection onto equivariant linear maps, block by block."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..reps import Rep, Scalar
from ._cache import hom_basis, invariant_basis
from ._exact import exact_on
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


def _slices(rep: Rep) -> list[tuple[int, int, int]]:
    """Canonical `(start, multiplicity, type dim)` of each distinct type of `rep`."""
    out, start, d = [], 0, rep.group.d
    for ttype, mult in rep.canonical_types():
        k = ttype.dim(d)
        out.append((start, mult, k))
        start += mult * k
    return out


def _pair_gather(
    flat_out: Tensor, flat_in: Tensor, out_slice: tuple, in_slice: tuple
) -> Tensor:
    """Positions in row-major `W.reshape(-1)` of one type pair, laid out as rows.

    Row `(a, b)` (copy `a` of the output type, copy `b` of the input type) holds the
    row-major `vec` of that copy pair's `(do, di)` sub-block.
    """
    (so, mo, do), (si, mi, di) = out_slice, in_slice
    rows = flat_out[so : so + mo * do].reshape(mo, 1, do, 1)
    cols = flat_in[si : si + mi * di].reshape(1, mi, 1, di)
    return (rows * flat_in.numel() + cols).reshape(-1)


class BlockProjector(nn.Module):
    """Orthogonal projector onto $Hom_G(\\rho_{in}, \\rho_{out})$, applied block-wise.

    Since $Hom_G(\\oplus_i V_i, \\oplus_j W_j) = \\oplus_{ij} Hom_G(V_i, W_j)$, the
    projection acts on each copy pair's sub-block $W_{ab}$ separately, with the
    cached basis $Q$ of its type pair: $\\mathrm{vec}(W_{ab}) \\mapsto
    QQ^T\\mathrm{vec}(W_{ab})$. One gather lays every copy pair of one type pair out
    as the rows of a matrix, so each type pair costs two matmuls (none when the
    pair's maps are all or none equivariant); one more gather puts the result
    back. No dense `dim(W) x dim(W)` matrix is ever formed. Biases project onto the
    G-invariant vectors of $\\rho_{out}$.

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
        ins, outs = _slices(rep_in), _slices(rep_out)
        in_types = [t for t, _ in rep_in.canonical_types()]
        out_types = [t for t, _ in rep_out.canonical_types()]
        flat_in, flat_out = rep_in.canonical_index(), rep_out.canonical_index()
        # (start, n_rows, n, r, buffer name) per type pair, in the rows layout.
        self._pairs: list[tuple[int, int, int, int, str]] = []
        # float64 masters that `.to(dtype)` cannot round: used for float64 inputs.
        self._exact: dict[str, Tensor] = {}
        self._exact_copies: dict[tuple[str, torch.device], Tensor] = {}
        gathers, start = [], 0
        for o, t_out in enumerate(out_types):
            for i, t_in in enumerate(in_types):
                Q = hom_basis(group, t_in, t_out)
                n_rows, n = outs[o][1] * ins[i][1], outs[o][2] * ins[i][2]
                name = f"_Q_{o}_{i}"
                self.register_buffer(name, Q.clone(), persistent=False)
                self._exact[name] = Q
                self._pairs.append((start, n_rows, n, Q.shape[1], name))
                gathers.append(_pair_gather(flat_out, flat_in, outs[o], ins[i]))
                start += n_rows * n
        gather = torch.cat(gathers)
        self.register_buffer("_gather", gather, persistent=False)
        self.register_buffer("_scatter", torch.argsort(gather), persistent=False)
        # Bias: copies of each output type as rows, projected onto invariants.
        self._bias: list[tuple[int, int, int, str]] = []
        for o, t_out in enumerate(out_types):
            name = f"_Qb_{o}"
            Qb = invariant_basis(group, t_out)
            self.register_buffer(name, Qb.clone(), persistent=False)
            self._exact[name] = Qb
            self._bias.append((*outs[o], name))
        self.register_buffer("_bias_gather", flat_out, persistent=False)
        self.register_buffer("_bias_scatter", torch.argsort(flat_out), persistent=False)

    # -- sizes ------------------------------------------------------------------------

    @property
    def rank(self) -> int:
        """Dimension of the space of equivariant weight matrices."""
        return sum(n_rows * r for _, n_rows, _, r, _ in self._pairs)

    @property
    def bias_rank(self) -> int:
        """Dimension of the space of invariant bias vectors."""
        return sum(m * getattr(self, name).shape[1] for _, m, _, name in self._bias)

    def _basis(self, name: str, like: Tensor) -> Tensor:
        """Basis `name` in `like`'s dtype; float64 inputs get the float64 master."""
        Q = getattr(self, name)
        if like.dtype == torch.float64:
            return exact_on(self._exact, self._exact_copies, name, like.device)
        return Q.to(like.dtype)

    # -- checks -----------------------------------------------------------------------

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

    # -- the rows layout --------------------------------------------------------------

    def _rows(self, W: Tensor) -> Tensor:
        """Row-major `vec` of every copy pair, grouped by type pair, `(..., N)`."""
        return W.reshape(*W.shape[:-2], -1).index_select(-1, self._gather)

    def _project_rows(self, v: Tensor) -> Tensor:
        lead = v.shape[:-1]
        pieces = []
        segments = v.split([n_rows * n for _, n_rows, n, _, _ in self._pairs], dim=-1)
        for (_, n_rows, n, r, name), seg in zip(self._pairs, segments, strict=True):
            if r == n:  # every map between these types is equivariant
                pieces.append(seg)
            elif r == 0:  # none is
                pieces.append(torch.zeros_like(seg))
            else:
                Q = self._basis(name, v)
                rows = seg.reshape(*lead, n_rows, n)
                pieces.append(((rows @ Q) @ Q.T).reshape(*lead, n_rows * n))
        return torch.cat(pieces, dim=-1)

    # -- public API -------------------------------------------------------------------

    def project(self, W: Tensor) -> Tensor:
        """$P W$: the nearest G-equivariant weight matrix in Frobenius norm.

        Shape:
            `W`: `(..., rep_out.dim, rep_in.dim)` -> same shape.
        """
        self._check_weight(W)
        projected = self._project_rows(self._rows(W))
        return projected.index_select(-1, self._scatter).reshape(W.shape)

    def project_bias(self, b: Tensor) -> Tensor:
        """$P_b b$: the nearest G-invariant bias vector.

        Shape:
            `b`: `(..., rep_out.dim)` -> same shape.
        """
        self._check_bias(b)
        lead = b.shape[:-1]
        bc = b.index_select(-1, self._bias_gather)
        parts = []
        for start, m, k, name in self._bias:
            Qb = self._basis(name, b)
            copies = bc[..., start : start + m * k].reshape(*lead, m, k)
            parts.append(((copies @ Qb) @ Qb.T).reshape(*lead, m * k))
        return torch.cat(parts, dim=-1).index_select(-1, self._bias_scatter)

    def coefficients(self, W: Tensor) -> Tensor:
        """Coordinates $\\theta$ of $PW$ in the block basis (blockwise $Q^T vec W$).

        Shape:
            `W`: `(..., rep_out.dim, rep_in.dim)` -> `(..., rank)`.
        """
        self._check_weight(W)
        v = self._rows(W)
        lead, pieces = v.shape[:-1], []
        for start, n_rows, n, r, name in self._pairs:
            if r == 0:
                continue
            rows = v[..., start : start + n_rows * n].reshape(*lead, n_rows, n)
            coeff = rows @ self._basis(name, v)
            pieces.append(coeff.reshape(*lead, n_rows * r))
        if not pieces:
            return v.new_zeros(*lead, 0)
        return torch.cat(pieces, dim=-1)

    def assemble(self, theta: Tensor) -> Tensor:
        """The equivariant weight $W = \\sum_k \\theta_k B_k$ from block coefficients.

        Inverse of `coefficients` on equivariant weights.

        Shape:
            `theta`: `(..., rank)` -> `(..., rep_out.dim, rep_in.dim)`.
        """
        if theta.ndim < 1 or theta.shape[-1] != self.rank:
            raise ValueError(
                f"coefficients for {self.rep_in} -> {self.rep_out} must have shape "
                f"(..., {self.rank}), got {tuple(theta.shape)}"
            )
        lead, pieces, offset = theta.shape[:-1], [], 0
        for _, n_rows, n, r, name in self._pairs:
            if r == 0:
                pieces.append(theta.new_zeros(*lead, n_rows * n))
                continue
            coeff = theta[..., offset : offset + n_rows * r].reshape(*lead, n_rows, r)
            rows = coeff @ self._basis(name, theta).T
            pieces.append(rows.reshape(*lead, n_rows * n))
            offset += n_rows * r
        flat = torch.cat(pieces, dim=-1).index_select(-1, self._scatter)
        return flat.reshape(*lead, self.rep_out.dim, self.rep_in.dim)

    def bias_coefficients(self, b: Tensor) -> Tensor:
        """Coordinates of $P_b b$ in the invariant-vector basis, `(..., bias_rank)`."""
        self._check_bias(b)
        lead = b.shape[:-1]
        bc = b.index_select(-1, self._bias_gather)
        pieces = []
        for start, m, k, name in self._bias:
            copies = bc[..., start : start + m * k].reshape(*lead, m, k)
            coeff = copies @ self._basis(name, b)
            pieces.append(coeff.reshape(*lead, -1))
        return torch.cat(pieces, dim=-1)

    def assemble_bias(self, theta: Tensor) -> Tensor:
        """The invariant bias from coefficients: `(..., bias_rank) -> (..., dim)`."""
        if theta.ndim < 1 or theta.shape[-1] != self.bias_rank:
            raise ValueError(
                f"bias coefficients for {self.rep_out} must have shape "
                f"(..., {self.bias_rank}), got {tuple(theta.shape)}"
            )
        lead, pieces, offset = theta.shape[:-1], [], 0
        for _, m, k, name in self._bias:
            Qb = self._basis(name, theta)
            r = Qb.shape[1]
            coeff = theta[..., offset : offset + m * r].reshape(*lead, m, r)
            pieces.append((coeff @ Qb.T).reshape(*lead, m * k))
            offset += m * r
        return torch.cat(pieces, dim=-1).index_select(-1, self._bias_scatter)

    def residual(self, W: Tensor, b: Tensor | None = None) -> Tensor:
        """$\\tfrac12\\|W - PW\\|^2 (+ \\tfrac12\\|b - P_b b\\|^2)$, summed; a scalar.

        Norms do not depend on the layout, so the weight term is evaluated in the
        rows layout without scattering back.
        """
        self._check_weight(W)
        v = self._rows(W)
        total = 0.5 * (v - self._project_rows(v)).square().sum()
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
