"""An equivariant bilinear layer $y = 0.1\\,W(x)\\,x$ with $W(x)$ linear in $x$."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..reps import Rep, TensorType


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

    Speed: $W(x)$ is never formed. Per type pair, one batched matmul contracts the
    selected copies with the input copies and one matmul applies $\\theta$:
    $y_a = 0.1\\sum_{b,m}\\theta_{abm}X_m x_b$, i.e. about
    $B\\,n\\,d_o d_i m_i (1 + m_o/d_i)$ multiply-adds per pair.

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
        mults = [m for _, m in rep.canonical_types()]
        starts = torch.tensor([0, *[m * t.dim(d) for t, m in rep.canonical_types()]])
        starts = starts.cumsum(0).tolist()
        self._slices = [(starts[k], mults[k], t.dim(d)) for k, t in enumerate(types)]
        idx = rep.canonical_index()
        self.register_buffer("_idx", idx, persistent=False)
        self.register_buffer("_inv", torch.argsort(idx), persistent=False)
        orthogonal = rep.group.is_orthogonal()
        self._pairs: list[tuple[int, int, int, int]] = []  # (o, i, x type, n)
        params = []
        for o, t_out in enumerate(types):
            for i, t_in in enumerate(types):
                k = _match(t_out * t_in.dual(), types, orthogonal)
                if k is None:
                    continue
                n = min(mults[k], types[k].dim(d))
                shape = (mults[o], mults[i] * n)  # theta[a, b, m]
                params.append(nn.Parameter(torch.randn(shape, generator=generator)))
                self._pairs.append((o, i, k, n))
        self.weights = nn.ParameterList(params)

    @staticmethod
    def _x_first_batched(X: Tensor, xi: Tensor, theta: Tensor) -> Tensor:
        """Batch-first: one batched matmul $Y_{kmb} = \\sum_l X_{mkl} x_{bl}$, one
        matmul with $\\theta$. `X` `(B, n, do, di)`, `xi` `(B, mi, di)`, `theta`
        `(mo, mi, n)`; returns `(mo, do, B)`."""
        B, n, do, di = X.shape
        mi, mo = xi.shape[1], theta.shape[0]
        Xk = X.transpose(1, 2).reshape(B, do * n, di)  # [B, k, m, l]
        Y = (Xk @ xi.transpose(1, 2)).reshape(B * do, n * mi)  # [B, k, (m, b)]
        w = theta.permute(2, 1, 0).reshape(n * mi, mo)  # [(m, b), a]
        return (Y @ w).reshape(B, do, mo).permute(2, 1, 0)

    @staticmethod
    def _x_first(X: Tensor, xi: Tensor, theta: Tensor) -> Tensor:
        """Batch-last: $Y_{mbk} = \\sum_l X_{mkl} x_{bl}$ as `di` broadcast products,
        then one matmul with $\\theta$. `X` `(n, do, di, B)`, `xi` `(mi, di, B)`,
        `theta` `(mo, mi, n)`; returns `(mo, do, B)`."""
        n, do, di, B = X.shape
        mi, mo = xi.shape[0], theta.shape[0]
        # unbind (one backward op) instead of indexing in the loop (one each)
        Xs, xs = X.unbind(2), xi.unbind(1)
        Y = Xs[0][:, None] * xs[0][None, :, None]  # (n, mi, do, B)
        for c in range(1, di):
            Y = Y + Xs[c][:, None] * xs[c][None, :, None]
        w = theta.permute(0, 2, 1).reshape(mo, n * mi)  # [a, (m, b)]
        return (w @ Y.reshape(n * mi, do * B)).reshape(mo, do, B)

    @staticmethod
    def _theta_first(X: Tensor, xi: Tensor, theta: Tensor) -> Tensor:
        """Batch-last: $Z_{aml} = \\sum_b \\theta_{abm} x_{bl}$ with one matmul, then
        one broadcast product per $(m, l)$. Same shapes as `_x_first`."""
        n, do, di, B = X.shape
        mi, mo = xi.shape[0], theta.shape[0]
        w = theta.permute(0, 2, 1).reshape(mo * n, mi)  # [(a, m), b]
        Zs = (w @ xi.reshape(mi, di * B)).reshape(mo, n * di, B).unbind(1)
        Xs = X.transpose(1, 2).reshape(n * di, do, B).unbind(0)
        y = Zs[0][:, None] * Xs[0][None]
        for j in range(1, n * di):
            y = y + Zs[j][:, None] * Xs[j][None]
        return y

    @staticmethod
    def _strategy(n: int, do: int, di: int) -> str:
        """Which contraction order and layout is fastest for one type pair.

        Measured on CPU (fwd+bwd, batch 500, the ch=128 reference network,
        `benchmarks/bench_step.py`): scalar inputs or few $(m, l)$ terms favour
        contracting $\\theta$ first in the batch-last layout; scalar outputs with
        inputs up to rank 2 favour batch-last products; everything else one batched
        matmul.
        """
        if di == 1 or n * di <= 6:
            return "theta_first"
        if do == 1 and di <= 9:
            return "x_first"
        return "x_first_batched"

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.rep.dim:
            raise ValueError(
                f"EquivariantBilinear expects last dim {self.rep.dim} ({self.rep}), "
                f"got input of shape {tuple(x.shape)}"
            )
        lead = x.shape[:-1]
        xb = x.reshape(-1, x.shape[-1]).index_select(-1, self._idx)
        B = xb.shape[0]
        xt = xb.T.contiguous()
        sizes = [m * k for _, m, k in self._slices]
        last = [
            part.reshape(m, k, B)
            for part, (_, m, k) in zip(xt.split(sizes), self._slices, strict=True)
        ]
        first = [
            part.reshape(B, m, k)
            for part, (_, m, k) in zip(
                xb.split(sizes, dim=1), self._slices, strict=True
            )
        ]
        outs: list[Tensor | None] = [None] * len(self._slices)
        for p, (o, i, k, n) in enumerate(self._pairs):
            (_, mo, do), (_, mi, di) = self._slices[o], self._slices[i]
            theta = self.weights[p].reshape(mo, mi, n)
            strategy = self._strategy(n, do, di)
            if strategy == "x_first_batched":
                X = first[k][:, :n].reshape(B, n, do, di)
                y = self._x_first_batched(X, first[i], theta)
            else:
                X = last[k][:n].reshape(n, do, di, B)
                y = getattr(self, f"_{strategy}")(X, last[i], theta)
            outs[o] = y if outs[o] is None else outs[o] + y
        pieces = [
            (out.reshape(m * k, B) if out is not None else xt.new_zeros(m * k, B))
            for out, (_, m, k) in zip(outs, self._slices, strict=True)
        ]
        y = 0.1 * torch.cat(pieces, dim=0).index_select(0, self._inv)
        return y.T.reshape(*lead, self.rep.dim)
