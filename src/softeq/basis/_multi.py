"""Fused penalties of one weight layout against several candidate groups at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ..groups import Group, as_groups
from ..reps import Rep
from ._exact import exact_on
from ._projector import BlockProjector

# One block: (rows, vec size n, buffer name of its bases Q (n, columns)).
_Block = tuple[int, int, str]


def nonnegative(residuals: Tensor) -> Tensor:
    """The residuals' values clamped at 0, their gradients untouched.

    In float32 the difference of squared norms rounds below 0 once
    $R_j \\lesssim 10^{-7}\\|w\\|^2$, while its gradient $(I - P_j)w$ is still exact:
    a plain `clamp_min` would zero that gradient, so a strong penalty would stop
    pulling exactly where it should finish the job.
    """
    return residuals + (residuals.clamp_min(0.0) - residuals).detach()


class _FusedResiduals(torch.autograd.Function):
    """$R_j = \\tfrac12(\\|u\\|^2 - \\|Q_j^T u\\|^2)$ for every group j.

    `u` is permuted into the rows layout (`gather`, inverted by `inverse`) and
    split into blocks `(rows, n)`, each with the bases of all groups side by side,
    `Q` `(n, cols)`; `owner` `(sum cols, n_groups)` marks each column's group. The
    backward, $\\sum_j g_j (I - P_j)u$, reuses the forward's coefficients: one GEMM
    per block instead of differentiating the squares.
    """

    @staticmethod
    def forward(
        ctx: Any, u: Tensor, gather: Tensor, inverse: Tensor, owner: Tensor,
        blocks: list[tuple[int, int, Tensor]]
    ) -> Tensor:  # fmt: skip
        v = u.index_select(0, gather)
        segments = v.split([rows * n for rows, n, _ in blocks])
        coeffs = [
            seg.view(rows, n) @ Q
            for (rows, n, Q), seg in zip(blocks, segments, strict=True)
        ]
        col_sq = torch.cat([(C * C).sum(0) for C in coeffs])
        ctx.blocks = blocks
        ctx.save_for_backward(v, inverse, owner, *coeffs)
        return 0.5 * (u.dot(u) - col_sq @ owner)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        blocks = ctx.blocks
        v, inverse, owner, *coeffs = ctx.saved_tensors
        gv = v * g.sum()
        g_cols = (owner @ g).split([Q.shape[1] for _, _, Q in blocks])
        segments = gv.split([rows * n for rows, n, _ in blocks])
        for (rows, n, Q), C, seg, gc in zip(
            blocks, coeffs, segments, g_cols, strict=True
        ):
            seg.view(rows, n).addmm_(C * gc, Q.T, alpha=-1.0)
        return gv.index_select(0, inverse), None, None, None, None


class MultiProjector(nn.Module):
    """One `BlockProjector` per candidate group for a shared layout, plus a fused
    evaluation of all their residuals.

    Every group sees the same layout (`rep.with_group(G)`), so all projectors share
    one rows layout. Stacking the type-pair bases of all groups side by side,
    $[Q_1 | \\dots | Q_m]$, gives every group's coefficients with one matmul per
    type pair, and

    $R_j = \\tfrac12\\|W - P_jW\\|^2 + \\tfrac12\\|b - P_j b\\|^2$
    $\\;= \\tfrac12(\\|w\\|^2 - \\|Q_j^T w\\|^2)
    + \\tfrac12(\\|b\\|^2 - \\|Q_{b,j}^T b\\|^2)$

    since each $P_j = Q_jQ_j^T$ is an orthogonal projector. Its gradient is exactly
    $(I - P_j)w$; the backward computes it from the forward's coefficients. The
    difference of squared norms cancels when $R_j \\ll \\|w\\|^2$: in float32 the
    *value* is then accurate only to about $10^{-7}\\|w\\|^2$; pass ``exact=True``
    (float64) wherever the value itself matters (logging, tuners).

    Args:
        rep_in: Input layout (its group is irrelevant; the layout is re-bound).
        rep_out: Output layout.
        groups: Candidate groups, distinct names, all acting on the same $R^d$.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = [get(n) for n in ["O3", "O2z"]]
        >>> mp = MultiProjector(parse("V", G[0]), parse("V", G[0]), G)
        >>> W = torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64))
        >>> [round(r, 6) for r in mp.residuals(W).tolist()]  # O3 breaks, O2z holds
        [0.333333, 0.0]
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, groups: Sequence[Group]) -> None:
        super().__init__()
        groups = as_groups(groups)
        if not groups:
            raise ValueError("MultiProjector needs at least one candidate group")
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate groups must have distinct names, got {names}")
        self.groups = groups
        self.projectors = nn.ModuleDict(
            {
                g.name: BlockProjector(rep_in.with_group(g), rep_out.with_group(g))
                for g in groups
            }
        )
        # float64 copies that `.to(dtype)` does not touch, for ``exact=True``.
        self._exact: dict[str, Tensor] = {}
        self._exact_copies: dict[tuple[str, torch.device], Tensor] = {}
        projs = list(self.projectors.values())
        first = projs[0]
        # The projectors' rows layout: one block per type pair, then per output type.
        col_groups: list[int] = []  # the group of every block column
        w_blocks = [
            self._add_block(
                rows, [getattr(p, p._pairs[k][4]) for p in projs], col_groups
            )
            for k, (_, rows, _, _, _) in enumerate(first._pairs)
        ]
        n_w_cols = len(col_groups)
        b_blocks = [
            self._add_block(m, [getattr(p, p._bias[o][3]) for p in projs], col_groups)
            for o, (_, m, _, _) in enumerate(first._bias)
        ]
        self._blocks = {"w": w_blocks, "wb": w_blocks + b_blocks}
        owner = torch.zeros(len(col_groups), len(groups), dtype=torch.float64)
        owner[torch.arange(len(col_groups)), torch.tensor(col_groups).long()] = 1.0
        n_w = first.rep_out.dim * first.rep_in.dim
        for key, gather, n_cols in (
            ("w", first._gather, n_w_cols),
            ("wb", torch.cat([first._gather, first._bias_gather + n_w]), len(owner)),
        ):
            self.register_buffer(f"_gather_{key}", gather, persistent=False)
            self.register_buffer(f"_inverse_{key}", gather.argsort(), persistent=False)
            self.register_buffer(
                f"_owner_{key}", owner[:n_cols].clone(), persistent=False
            )

    def _add_block(self, rows: int, Qs: list[Tensor], col_groups: list[int]) -> _Block:
        """Register the bases `Qs` (one per group) side by side as one block, and
        append the group of each of its columns to `col_groups`."""
        name = f"_Qblock_{len(self._exact)}"
        Q = torch.cat(Qs, dim=1)
        self.register_buffer(name, Q, persistent=False)
        self._exact[name] = Q.clone()
        col_groups += [j for j, Qj in enumerate(Qs) for _ in range(Qj.shape[1])]
        return rows, Q.shape[0], name

    def _basis(self, name: str, dtype: torch.dtype) -> Tensor:
        """A block's bases in `dtype`; float64 comes from the float64 master."""
        Q = cast(Tensor, self._buffers[name])  # plain dict lookup: called per block
        if dtype == torch.float64:
            return exact_on(self._exact, self._exact_copies, name, Q.device)
        return Q if Q.dtype == dtype else Q.to(dtype)

    def check(self, W: Tensor, b: Tensor | None = None) -> None:
        """Raise ValueError unless `W` is `(rep_out.dim, rep_in.dim)` and `b`
        (if given) `(rep_out.dim,)`."""
        first = next(iter(self.projectors.values()))
        first._check_weight(W)
        if W.ndim != 2:
            raise ValueError(
                f"MultiProjector expects a 2-D weight, got {tuple(W.shape)}"
            )
        if b is not None:
            first._check_bias(b)
            if b.ndim != 1:
                raise ValueError(
                    f"MultiProjector expects a 1-D bias, got {tuple(b.shape)}"
                )

    def residuals(
        self, W: Tensor, b: Tensor | None = None, *, exact: bool = False
    ) -> Tensor:
        """$R_j$ for every group, in the order of `groups`, shape `(n_groups,)`.

        Args:
            W: Weight `(rep_out.dim, rep_in.dim)`.
            b: Optional bias `(rep_out.dim,)`.
            exact: Evaluate in float64 (accurate values); otherwise in `W.dtype`
                (fast, exact gradients).
        """
        self.check(W, b)
        u = W.reshape(-1) if b is None else torch.cat([W.reshape(-1), b.to(W.dtype)])
        dtype = torch.float64 if exact else W.dtype
        key = "w" if b is None else "wb"
        blocks = [(r, n, self._basis(name, dtype)) for r, n, name in self._blocks[key]]
        residuals = _FusedResiduals.apply(
            u.to(dtype),
            self.get_buffer(f"_gather_{key}"),
            self.get_buffer(f"_inverse_{key}"),
            self.get_buffer(f"_owner_{key}").to(dtype),
            blocks,
        )
        return nonnegative(residuals)

    def forward(self, W: Tensor, b: Tensor | None = None) -> Tensor:
        """Same as `residuals(W, b)`."""
        return self.residuals(W, b)
