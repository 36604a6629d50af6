"""Fused penalties of one weight layout against several candidate groups at once."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..groups import Group
from ..reps import Rep
from ._projector import BlockProjector


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
    $(I - P_j)w$. The difference of squared norms cancels when $R_j \\ll \\|w\\|^2$:
    in float32 the *value* is then accurate only to about $10^{-7}\\|w\\|^2$; pass
    ``exact=True`` (float64) wherever the value itself matters (logging, tuners).

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
        groups = list(groups)
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
        first = self.projectors[names[0]]
        self._shapes = [(s, n_rows, n) for s, n_rows, n, _, _ in first._pairs]
        # float64 copies that `.to(dtype)` does not touch, for ``exact=True``.
        self._exact: dict[str, Tensor] = {}
        self._fuse_weights()
        self._fuse_bias()

    def _fuse_weights(self) -> None:
        projs = list(self.projectors.values())
        owners = []
        for k, (_, n_rows, _) in enumerate(self._shapes):
            names = [p._pairs[k][4] for p in projs]
            Qs = [getattr(p, name) for p, name in zip(projs, names, strict=True)]
            Qall = torch.cat(Qs, dim=1)
            self.register_buffer(f"_Qall_{k}", Qall, persistent=False)
            self._exact[f"_Qall_{k}"] = Qall.clone()
            cols = torch.cat([torch.full((Q.shape[1],), j) for j, Q in enumerate(Qs)])
            owners.append(cols.repeat(n_rows))
        self.register_buffer("_owner", torch.cat(owners), persistent=False)

    def _fuse_bias(self) -> None:
        projs = list(self.projectors.values())
        owners = []
        self._bias_shapes = [(s, m, k) for s, m, k, _ in projs[0]._bias]
        for o, (_, m, _) in enumerate(self._bias_shapes):
            Qs = [getattr(p, p._bias[o][3]) for p in projs]
            Qball = torch.cat(Qs, dim=1)
            self.register_buffer(f"_Qball_{o}", Qball, persistent=False)
            self._exact[f"_Qball_{o}"] = Qball.clone()
            cols = torch.cat([torch.full((Q.shape[1],), j) for j, Q in enumerate(Qs)])
            owners.append(cols.repeat(m))
        self.register_buffer("_bias_owner", torch.cat(owners), persistent=False)

    def _projected_sq(
        self, segments: list[Tensor], owner: Tensor, like: Tensor
    ) -> Tensor:
        """Per-group $\\|Q_j^T x\\|^2$ from the fused coefficient segments."""
        zeros = like.new_zeros(len(self.groups))
        if not segments:
            return zeros
        return zeros.index_add(0, owner, torch.cat(segments).square())

    def _basis(self, name: str, exact: bool, like: Tensor) -> Tensor:
        Q = getattr(self, name)
        if exact or like.dtype == torch.float64:
            return self._exact[name].to(device=like.device)
        return Q.to(like.dtype)

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
        first = next(iter(self.projectors.values()))
        first._check_weight(W)
        if W.ndim != 2:
            raise ValueError(
                f"MultiProjector expects a 2-D weight, got {tuple(W.shape)}"
            )
        dtype = torch.float64 if exact else W.dtype
        v = first._rows(W).to(dtype)
        segments = []
        for k, (start, n_rows, n) in enumerate(self._shapes):
            Qa = self._basis(f"_Qall_{k}", exact, v)
            if Qa.shape[1]:
                rows = v[start : start + n_rows * n].reshape(n_rows, n)
                segments.append((rows @ Qa).reshape(-1))
        total = v.square().sum() - self._projected_sq(segments, self._owner, v)
        if b is not None:
            first._check_bias(b)
            bc = b.index_select(-1, first._bias_gather).to(dtype)
            bias_segments = []
            for o, (start, m, k) in enumerate(self._bias_shapes):
                Qb = self._basis(f"_Qball_{o}", exact, v)
                if Qb.shape[1]:
                    copies = bc[start : start + m * k].reshape(m, k)
                    bias_segments.append((copies @ Qb).reshape(-1))
            total = total + bc.square().sum()
            total = total - self._projected_sq(bias_segments, self._bias_owner, v)
        return (0.5 * total).clamp_min(0.0)

    def forward(self, W: Tensor, b: Tensor | None = None) -> Tensor:
        """Same as `residuals(W, b)`."""
        return self.residuals(W, b)
