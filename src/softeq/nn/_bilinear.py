"""An equivariant bilinear layer $y = 0.1\\,W(x)\\,x$ with $W(x)$ linear in $x$."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ..reps import Rep, TensorType

_SCALE = 0.1
# Cost of one multiply-add of a batch-last product-and-sum relative to one of a
# GEMM (CPU, batch 500); used to pick each pair's contraction order statically.
_PRODUCT_COST = 4
# `_dot` forms the full product only for sums over more than `_MAX_TERMS` terms
# whose product has at most `_MAX_PRODUCT` entries (measured, CPU, batch 500).
_MAX_TERMS = 6
_MAX_PRODUCT = 2**17


def _match(word: TensorType, types: list[TensorType], orthogonal: bool) -> int | None:
    """Index of the type of `x` whose copies can fill weight blocks of type `word`.

    A copy of type T can stand in for a block of type `word` when
    $\\rho_T(g) = \\rho_{word}(g)$ for every g: T == word always; for orthogonal
    groups $g^{-T} = g$, so any T of the same rank will do (exact word first).
    """
    if word.rank == 0:
        return None
    if word in types:
        return types.index(word)
    if orthogonal:
        for k, t in enumerate(types):
            if t.rank == word.rank:
                return k
    return None


@dataclass(frozen=True)
class _Pair:
    """One weight block: output type `o` (mo copies of dim do), input type `i`
    (mi copies of dim di), the first `n` copies of type `k` as selected copies,
    and its parameter `theta` of shape `(mo, mi * n)` (index `p`)."""

    p: int
    o: int
    i: int
    k: int
    n: int
    mo: int
    do: int
    mi: int
    di: int

    @property
    def is_x_first(self) -> bool:
        """Contract copies first ($Y = X x$) rather than $\\theta$ first ($Z =
        \\theta x$): the order with fewer estimated multiply-adds. The GEMM with
        $\\theta$ costs $n\\,m_o m_i$ times $d_o$ (x first) or $d_i$ ($\\theta$
        first); the batch-last products $n\\,m_i d_o d_i$ or $n\\,m_o d_o d_i$,
        weighted by `_PRODUCT_COST`. One-dimensional outputs always go x first and
        one-dimensional inputs $\\theta$ first, so such types only meet GEMMs."""
        c, n, mo, do, mi, di = _PRODUCT_COST, self.n, self.mo, self.do, self.mi, self.di
        if do == 1 or di == 1:  # keeps one-dimensional types out of the products
            return do == 1
        return n * do * mi * (c * di + mo) <= n * di * mo * (c * do + mi)

    def copies(self, xs: list[Tensor]) -> Tensor:
        """The selected copies as `(n, do, di, B)` from per-type `(m, d, B)` views."""
        X = xs[self.k]
        return X[: self.n].view(self.n, self.do, self.di, X.shape[-1])


@dataclass(frozen=True)
class _Plan:
    """Static contraction plan and layout.

    x-first pairs are grouped by output type and $\\theta$-first pairs by input
    type: one GEMM per group. Types that take part in products live batch-last in
    a `slab` `(S, B)` (products vectorise over the batch); one-dimensional types
    that only meet GEMMs stay batch-first in `flat` `(B, F)`, which GEMMs read and
    write through transposed views, so they are never transposed. `slab_run` and
    `flat_run` hold the columns of each part as one run `(start, stop)`, else None.
    """

    sizes: tuple[tuple[int, int], ...]  # (copies, dim) per canonical type
    in_slab: tuple[bool, ...]
    x_first: tuple[tuple[_Pair, ...], ...]
    theta_first: tuple[tuple[_Pair, ...], ...]
    slab_run: tuple[int, int] | None
    flat_run: tuple[int, int] | None

    def split(self, slab: Tensor, flat: Tensor) -> list[Tensor]:
        """Per-type views `(m, d, B)` of a `slab` `(S, B)` and a `flat` `(B, F)`."""
        B, views, s, f = slab.shape[1], [], 0, 0
        for (m, d), in_slab in zip(self.sizes, self.in_slab, strict=True):
            if in_slab:
                views.append(slab[s : s + m * d].view(m, d, B))
                s += m * d
            else:
                views.append(flat[:, f : f + m * d].T.view(m, d, B))
                f += m * d
        return views


def _make_plan(
    pairs: list[_Pair], sizes: tuple[tuple[int, int], ...], idx: Tensor
) -> tuple[_Plan, Tensor, Tensor]:
    """The `_Plan` of `pairs`, and the columns of its slab and flat parts (from
    the canonical index `idx`)."""
    in_products = {p.k for p in pairs} | {p.i if p.is_x_first else p.o for p in pairs}
    in_slab = tuple(t in in_products or d > 1 for t, (_, d) in enumerate(sizes))
    col_in_slab = torch.repeat_interleave(
        torch.tensor(in_slab, dtype=torch.bool),
        torch.tensor([m * d for m, d in sizes], dtype=torch.long),
    )
    slab, flat = idx[col_in_slab], idx[~col_in_slab]
    n_types = len(sizes)
    plan = _Plan(
        sizes,
        in_slab,
        tuple(g for o in range(n_types) if (g := _group(pairs, o=o, x=True))),
        tuple(g for i in range(n_types) if (g := _group(pairs, i=i, x=False))),
        _run(slab),
        _run(flat),
    )
    return plan, slab, flat


def _run(cols: Tensor) -> tuple[int, int] | None:
    """`(start, stop)` if `cols` is `start, start + 1, ..., stop - 1`, else None."""
    start = int(cols[0]) if len(cols) else 0
    run = torch.arange(start, start + len(cols))
    return (start, start + len(cols)) if torch.equal(cols, run) else None


def _group(
    pairs: list[_Pair], *, o: int | None = None, i: int | None = None, x: bool
) -> tuple[_Pair, ...]:
    """The pairs with output type `o` (or input type `i`) and order `x`."""
    return tuple(
        p for p in pairs if p.is_x_first == x and (p.o == o if i is None else p.i == i)
    )


def _rows(x: Tensor, rows: Tensor, run: tuple[int, int] | None) -> Tensor:
    """Rows `rows` of a features-first `x` `(dim, B)`: a view when they form a run."""
    return x[run[0] : run[1]] if run else x.index_select(0, rows)


def _inputs(x: Tensor, slab: Tensor, flat: Tensor, plan: _Plan) -> list[Tensor]:
    """`x` `(dim, B)` as the plan's slab `(S, B)` and flat `(B, F)` (a transposed
    view): views of `x` when the parts are runs, else gathered copies."""
    return [_rows(x, slab, plan.slab_run), _rows(x, flat, plan.flat_run).T]


def _outputs(
    start: Tensor, slab: Tensor, flat: Tensor, plan: _Plan, residual: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """An accumulator for the output, initialised to `start` `(dim, B)` when
    `residual`, else to zero: `(whole, slab part, flat part)`. A part whose rows
    form a run is a view of `whole`; otherwise it is a gathered copy that
    `_assemble` writes back."""
    whole = start.clone() if residual else torch.zeros_like(start)
    return whole, *_inputs(whole, slab, flat, plan)


def _assemble(
    whole: Tensor, parts: list[Tensor], slab: Tensor, flat: Tensor, plan: _Plan
) -> Tensor:
    """`whole` with the parts of `_outputs` that are not views written back."""
    if not plan.slab_run:
        whole.index_copy_(0, slab, parts[0])
    if not plan.flat_run:
        whole.index_copy_(0, flat, parts[1].T)
    return whole


def _theta_rows(theta: Tensor, p: _Pair) -> Tensor:
    """$\\theta_{abm}$ as rows $(a, m)$, columns $b$: `(mo * n, mi)`."""
    return theta.view(p.mo, p.mi, p.n).transpose(1, 2).reshape(p.mo * p.n, p.mi)


def _dot(
    a: Tensor, b: Tensor, dim: int, out: Tensor, *, accumulate: bool, scale: float = 1.0
) -> None:
    """`out (+)= scale * (a * b).sum(dim)` for broadcastable `a`, `b`.

    A long `dim` whose full product stays small is formed and reduced in two ops;
    otherwise `dim` is summed term by term into `out` (one fused multiply-add per
    term and no temporary: large temporaries cost page faults on every call).
    """
    terms = max(a.shape[dim], b.shape[dim])
    if terms > _MAX_TERMS and out.numel() * terms <= _MAX_PRODUCT:
        total = (a * b).sum(dim)
        if not accumulate:
            out.copy_(total)
        else:
            out.add_(total, alpha=scale)
        return
    pairs = zip(a.unbind(dim), b.unbind(dim), strict=True)
    if not accumulate:
        if scale != 1.0:
            raise ValueError("_dot scales only when accumulating")
        a0, b0 = next(pairs)
        torch.mul(a0, b0, out=out)
    for ak, bk in pairs:
        out.addcmul_(ak, bk, value=scale)


def _x_first_forward(
    group: tuple[_Pair, ...], xs: list[Tensor], ys: list[Tensor], thetas: list[Tensor]
) -> tuple[Tensor, Tensor]:
    """$Y_{bmk} = \\sum_l x_{bl} X_{mkl}$ per pair (batch-last products), stacked
    over the group, then $y_o \\mathrel{+}= 0.1\\,W Y$ with one GEMM; returns the
    stacked `Y` `(sum mi * n, do * B)` and `W` `(mo, sum mi * n)`, the group's
    $\\theta$ side by side."""
    B, first = xs[0].shape[-1], group[0]
    Y = xs[0].new_empty(sum(p.mi * p.n for p in group), first.do * B)
    for p, Yp in zip(group, Y.split([p.mi * p.n for p in group]), strict=True):
        X = p.copies(xs).view(1, p.n * p.do, p.di, B)
        xi = xs[p.i].view(p.mi, 1, p.di, B)
        _dot(xi, X, 2, Yp.view(p.mi, p.n * p.do, B), accumulate=False)
    W = torch.cat([thetas[p.p] for p in group], dim=1)
    ys[first.o].view(first.mo, first.do * B).addmm_(W, Y, alpha=_SCALE)
    return Y, W


def _theta_first_forward(
    group: tuple[_Pair, ...], xs: list[Tensor], ys: list[Tensor], thetas: list[Tensor]
) -> tuple[Tensor, Tensor]:
    """$Z_{aml} = \\sum_b \\theta_{abm} x_{bl}$ for the whole group with one GEMM,
    then $y_{ak} \\mathrel{+}= 0.1\\sum_{m,l} Z_{aml} X_{mkl}$ per pair; returns
    `Z` `(sum mo * n, di * B)` and `W` `(sum mo * n, mi)`, the group's $\\theta$
    as rows $(a, m)$."""
    B, first = xs[0].shape[-1], group[0]
    W = torch.cat([_theta_rows(thetas[p.p], p) for p in group])
    Z = W @ xs[first.i].view(first.mi, first.di * B)
    for p, Zp in zip(group, Z.split([p.mo * p.n for p in group]), strict=True):
        # X as [k, (m, l)]: one summed dimension
        Xk = p.copies(xs).transpose(0, 1).reshape(1, p.do, p.n * p.di, B)
        Zp = Zp.view(p.mo, 1, p.n * p.di, B)
        _dot(Zp, Xk, 2, ys[p.o], accumulate=True, scale=_SCALE)
    return Z, W


def _x_first_backward(
    group: tuple[_Pair, ...], xs: list[Tensor], gys: list[Tensor], gxs: list[Tensor],
    Y: Tensor, W: Tensor
) -> list[Tensor]:  # fmt: skip
    """Backward of `_x_first_forward`, with `gys` the output gradients:
    $\\partial\\theta = 0.1\\,g_y Y^T$ and $g_Y = W^T g_y$ by GEMM, then
    $0.1\\,g_Y$ back to $x_i$ and $X$ by products (accumulated into `gxs`);
    returns the group's $\\theta$ gradients."""
    B, first = xs[0].shape[-1], group[0]
    gy = gys[first.o].view(first.mo, first.do * B)
    gW = torch.mm(gy, Y.T).mul_(_SCALE)
    gY = W.T @ gy
    sizes = [p.mi * p.n for p in group]
    for p, gYp in zip(group, gY.split(sizes), strict=True):
        g = gYp.view(p.mi, p.n * p.do, 1, B)
        X = p.copies(xs).view(1, p.n * p.do, p.di, B)
        _dot(g, X, 1, gxs[p.i], accumulate=True, scale=_SCALE)
        xi = xs[p.i].view(p.mi, 1, p.di, B)
        gX = p.copies(gxs).view(p.n * p.do, p.di, B)
        _dot(g, xi, 0, gX, accumulate=True, scale=_SCALE)
    return list(gW.split(sizes, dim=1))


def _theta_first_backward(
    group: tuple[_Pair, ...], xs: list[Tensor], gys: list[Tensor], gxs: list[Tensor],
    Z: Tensor, W: Tensor
) -> list[Tensor]:  # fmt: skip
    """Backward of `_theta_first_forward`, with `gys` the output gradients:
    $g_Z$ (of the unscaled products) and $\\partial X$ by products, then
    $\\partial\\theta = 0.1\\,g_Z x_i^T$ and $\\partial x_i = 0.1\\,W^T g_Z$ by GEMM
    (accumulated into `gxs`); returns the group's $\\theta$ gradients."""
    B, first = xs[0].shape[-1], group[0]
    gZ = torch.empty_like(Z)
    sizes = [p.mo * p.n for p in group]
    for p, Zp, gZp in zip(group, Z.split(sizes), gZ.split(sizes), strict=True):
        gy = gys[p.o].view(p.mo, 1, 1, p.do, B)
        X = p.copies(xs).transpose(1, 2).unsqueeze(0)  # [., m, l, k]
        _dot(gy, X, 3, gZp.view(p.mo, p.n, p.di, B), accumulate=False)
        Zp = Zp.view(p.mo, p.n, 1, p.di, B)
        gX = p.copies(gxs)
        _dot(Zp, gy.view(p.mo, 1, p.do, 1, B), 0, gX, accumulate=True, scale=_SCALE)
    xi = xs[first.i].view(first.mi, first.di * B)
    gW = torch.mm(gZ, xi.T).mul_(_SCALE)
    gxs[first.i].view(first.mi, first.di * B).addmm_(W.T, gZ, alpha=_SCALE)
    return [
        gWp.view(p.mo, p.n, p.mi).transpose(1, 2).reshape(p.mo, p.mi * p.n)
        for p, gWp in zip(group, gW.split(sizes), strict=True)
    ]


class _BilinearFunction(torch.autograd.Function):
    """$y = [x +]\\, 0.1\\,W(x)\\,x$ for a contiguous features-first `x` `(dim, B)`
    (see `_Plan` for the layout), with a hand-written backward that reuses the
    forward's GEMM layouts. With `residual`, the output starts as `x` (and the
    input gradient as the output gradient) instead of zero: the block's skip
    connection costs no extra pass."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, slab: Tensor, flat: Tensor, plan: _Plan,
        residual: bool, *thetas: Tensor
    ) -> Tensor:  # fmt: skip
        x_slab, x_flat = _inputs(x, slab, flat, plan)
        y, *y_parts = _outputs(x, slab, flat, plan, residual)
        xs, ys = plan.split(x_slab, x_flat), plan.split(*y_parts)
        saved = []
        for group in plan.x_first:
            saved += _x_first_forward(group, xs, ys, list(thetas))
        for group in plan.theta_first:
            saved += _theta_first_forward(group, xs, ys, list(thetas))
        ctx.plan, ctx.n_thetas, ctx.residual = plan, len(thetas), residual
        ctx.save_for_backward(x_slab, x_flat, slab, flat, *saved)
        return _assemble(y, y_parts, slab, flat, plan)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, gy: Tensor) -> tuple[Tensor | None, ...]:
        plan: _Plan = ctx.plan
        x_slab, x_flat, slab, flat, *saved = ctx.saved_tensors
        gy = gy.contiguous()
        # the steps apply the 0.1 to their (smaller) results, not to gy
        gy_slab, gy_flat = _inputs(gy, slab, flat, plan)
        gx, *gx_parts = _outputs(gy, slab, flat, plan, ctx.residual)
        xs, gys = plan.split(x_slab, x_flat), plan.split(gy_slab, gy_flat)
        gxs = plan.split(*gx_parts)
        steps = [(g, _x_first_backward) for g in plan.x_first]
        steps += [(g, _theta_first_backward) for g in plan.theta_first]
        grads: list[Tensor | None] = [None] * ctx.n_thetas
        for j, (group, step) in enumerate(steps):
            group_grads = step(group, xs, gys, gxs, *saved[2 * j : 2 * j + 2])
            for p, g in zip(group, group_grads, strict=True):
                grads[p.p] = g
        gx = _assemble(gx, gx_parts, slab, flat, plan)
        return (gx, None, None, None, None, *grads)


class EquivariantBilinear(nn.Module):
    """Equivariant bilinear map $y = 0.1\\,W(x)\\,x$ on one representation.

    The weight $W(x) \\in Hom(V, V)$ is itself an equivariant *linear* function of
    $x$: the sub-block of $W$ between output copy $a$ (type $T_o$) and input copy
    $b$ (type $T_i$) transforms like $T_o \\otimes T_i^*$, so it may be any learned
    combination of the copies of $x$ that transform the same way,
    $W_{ab}(x) = \\sum_m \\theta_{abm} X_m$ over the first $n = \\min(m_T, \\dim T)$
    copies $X_m$ of that type (EMLP's BiLinear, Finzi et al. 2021, picks a random
    subset; the copies are exchangeable at initialisation, and a fixed slice
    avoids a gather). Blocks with no
    matching type in $x$ are zero. Equivariant for the group it is built for and
    every subgroup.

    Speed: $W(x)$ is never formed. Each type pair of
    $y_a = 0.1\\sum_{b,m}\\theta_{abm}X_m x_b$ either contracts copies first,
    $Y_{bm} = X_m x_b$ (products over the batch-last layout, then one GEMM with
    $\\theta$ shared by all pairs with the same output type), or $\\theta$ first,
    $Z_{am} = \\sum_b \\theta_{abm} x_b$ (one GEMM shared by all pairs with the same
    input type, then products), whichever costs fewer multiply-adds; the order
    is fixed at construction. A custom backward reuses these layouts instead of
    differentiating many small ops.

    Args:
        rep: The representation of both input and output (PER: the gated hidden
            representation of the largest candidate group).
        generator: Randomness for the parameters.

    Shape:
        Input `(*, rep.dim)`, output `(*, rep.dim)`.
    """

    def __init__(self, rep: Rep, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.rep = rep
        d = rep.group.d
        types = [t for t, _ in rep.canonical_types()]
        sizes = tuple((m, t.dim(d)) for t, m in rep.canonical_types())
        orthogonal = rep.group.is_orthogonal()
        pairs, params = [], []
        for o, t_out in enumerate(types):
            for i, t_in in enumerate(types):
                k = _match(t_out * t_in.dual(), types, orthogonal)
                if k is None:
                    continue
                n = min(sizes[k][0], sizes[k][1])
                shape = (sizes[o][0], sizes[i][0] * n)  # theta[a, b, m]
                params.append(nn.Parameter(torch.randn(shape, generator=generator)))
                pairs.append(_Pair(len(pairs), o, i, k, n, *sizes[o], *sizes[i]))
        self.weights = nn.ParameterList(params)
        self._plan, slab, flat = _make_plan(pairs, sizes, rep.canonical_index())
        self.register_buffer("_slab", slab, persistent=False)
        self.register_buffer("_flat", flat, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep.dim:
            raise ValueError(
                f"EquivariantBilinear expects last dim {self.rep.dim} ({self.rep}), "
                f"got input of shape {tuple(x.shape)}"
            )
        h = x.reshape(-1, self.rep.dim).T
        return self.forward_features_first(h).T.contiguous().reshape(x.shape)

    def forward_features_first(self, h: Tensor, *, residual: bool = False) -> Tensor:
        """The same map on features-first input, `h` `(rep.dim, B)` -> `(rep.dim,
        B)`, plus `h` itself when `residual` (a block's skip connection, fused).

        EMLP-shaped models keep their hidden features in this layout, so the
        products over the batch-last layout need no transposes.
        """
        if h.ndim != 2 or h.shape[0] != self.rep.dim:
            raise ValueError(
                f"EquivariantBilinear expects features-first input ({self.rep.dim}, "
                f"B) ({self.rep}), got shape {tuple(h.shape)}"
            )
        return _BilinearFunction.apply(
            h.contiguous(), self._slab, self._flat, self._plan, residual,
            *self.weights,
        )  # fmt: skip
