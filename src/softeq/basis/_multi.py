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
        """Stack the bases of all groups, and of all type pairs with one vec size n.

        Type pairs whose copy-pair vectors have the same length n (e.g. V→V2 and
        V2→V, both 27) share one matmul: their rows are gathered next to each other
        and multiplied by all their bases side by side. Two small 0/1 matmuls then
        sum each pair's own squared coefficients per group (`_S_c`, `_M_c`),
        dropping the cross products (rows of one pair times another's basis).
        """
        projs = list(self.projectors.values())
        first = projs[0]
        by_n: dict[int, list[int]] = {}
        for k, (_, _, n) in enumerate(self._shapes):
            by_n.setdefault(n, []).append(k)
        gathers, start = [], 0
        self._classes: list[tuple[int, int, int, int]] = []
        for c, (n, pairs) in enumerate(sorted(by_n.items())):
            blocks, col_owner, col_pair = [], [], []
            for k in pairs:
                for j, proj in enumerate(projs):
                    Q = getattr(proj, proj._pairs[k][4])
                    blocks.append(Q)
                    col_owner.append(torch.full((Q.shape[1],), j))
                    col_pair.append(torch.full((Q.shape[1],), k))
            Q_cls = torch.cat(blocks, dim=1)
            if Q_cls.shape[1] == 0:
                continue
            row_pair = torch.cat([torch.full((self._shapes[k][1],), k) for k in pairs])
            cols, col_pair_t = torch.cat(col_owner), torch.cat(col_pair)
            pair_ids = torch.tensor(pairs)
            # S sums the squared coefficients of each pair's rows; M keeps a pair's
            # own columns (dropping cross products) and sums them per group.
            S = (pair_ids[:, None] == row_pair[None, :]).to(Q_cls.dtype)
            keep = pair_ids[:, None] == col_pair_t[None, :]
            M = keep[:, :, None] & (cols[None, :, None] == torch.arange(len(projs)))
            for k in pairs:
                seg_start, n_rows, _ = self._shapes[k]
                gathers.append(first._gather[seg_start : seg_start + n_rows * n])
            n_rows_cls = int(row_pair.numel())
            name = f"_Qcls_{c}"
            self.register_buffer(name, Q_cls, persistent=False)
            self.register_buffer(f"_S_{c}", S, persistent=False)
            self.register_buffer(
                f"_M_{c}", M.reshape(-1, len(projs)).to(Q_cls.dtype), persistent=False
            )
            self._exact[name] = Q_cls.clone()
            self._classes.append((start, n_rows_cls, n, c))
            start += n_rows_cls * n
        empty = torch.zeros(0, dtype=torch.long)
        self.register_buffer(
            "_wgather", torch.cat(gathers) if gathers else empty, persistent=False
        )

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
        """Per-group $\\|Q_j^T x\\|^2$ from the fused coefficient segments; entries
        owned by bucket `n_groups` (cross products) are dropped."""
        n_groups = len(self.groups)
        zeros = like.new_zeros(n_groups + 1)
        if not segments:
            return zeros[:n_groups]
        return zeros.index_add(0, owner, torch.cat(segments).square())[:n_groups]

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
        flat = W.reshape(-1)
        # every entry of W appears exactly once in the rows layout: same norm
        flat_d = flat.to(dtype)
        total = torch.dot(flat_d, flat_d)
        v = flat.index_select(0, self._wgather).to(dtype)
        # split (one backward op) rather than slicing (a full-size zero fill each)
        pieces = v.split([n_rows * n for _, n_rows, n, _ in self._classes])
        for (_, n_rows, n, c), piece in zip(self._classes, pieces, strict=True):
            rows = piece.reshape(n_rows, n)
            coeff_sq = (rows @ self._basis(f"_Qcls_{c}", exact, v)).square()
            per_pair = getattr(self, f"_S_{c}").to(dtype) @ coeff_sq
            total = total - per_pair.reshape(-1) @ getattr(self, f"_M_{c}").to(dtype)
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
