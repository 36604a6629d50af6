"""Gated nonlinearities: swish on scalars, sigmoid gates on every non-scalar copy."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ..reps import Rep, Scalar


def num_gates(rep: Rep) -> int:
    """Number of non-scalar copies in `rep` (one gate scalar each)."""
    return sum(m for m, t in rep.blocks if t.rank > 0)


def gated(rep: Rep) -> Rep:
    """`rep` followed by one gate scalar per non-scalar copy, in layout order.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> gated(parse("54*V0+18*V+6*V2+2*V3", get("O3"))).dim
        242
    """
    k = num_gates(rep)
    return rep if k == 0 else rep + k * Scalar(rep.group)


def gate_index(rep: Rep) -> Tensor:
    """For each component of `rep`, the index in `gated(rep)` of its gate.

    Scalars gate themselves (so $x\\,\\sigma(x)$ is swish); every component of the
    c-th non-scalar copy points at gate scalar `rep.dim + c`.

    Returns:
        Long tensor of shape `(rep.dim,)`.
    """
    d, start, gate = rep.group.d, 0, rep.dim
    block_layout = []
    for mult, ttype in rep.blocks:
        k = ttype.dim(d)
        for _ in range(mult):
            if ttype.rank == 0:
                block_layout.append(torch.arange(start, start + k))
            else:
                block_layout.append(torch.full((k,), gate))
                gate += 1
            start += k
    in_blocks = torch.cat(block_layout)
    flat = torch.empty_like(in_blocks)
    position = torch.arange(rep.dim) if rep.index is None else rep.index
    # block-layout coordinate c sits at flat position index[c]; scalars self-gate
    # through their flat position.
    is_scalar = in_blocks < rep.dim
    flat[position] = torch.where(is_scalar, position, in_blocks)
    return flat


def _sigmoid_backward(grad: Tensor, s: Tensor) -> Tensor:
    """`grad * s * (1 - s)` in one pass, for `s` a sigmoid's output."""
    return torch.ops.aten.sigmoid_backward(grad, s)


class _GateFunction(torch.autograd.Function):
    """Features-first gated nonlinearity with a hand-written backward.

    For `x` `(G, B)` with $s = \\sigma(x)$, values $v = x_{:D}$ and gates
    $s_g = s_{gate(\\cdot)}$: $y = v \\odot (s_g + w \\odot s_{:D})$ (`w` = 0 when
    absent). Backward, with $\\sigma' = s(1 - s)$:
    $\\partial v = g \\odot (s_g + w \\odot s_{:D})
    + g \\odot w \\odot v \\odot \\sigma'_{:D}$, plus
    $g \\odot v \\odot \\sigma'(x_{gate})$ scattered onto the gate rows (a scalar is
    its own gate, so swish comes out right), and
    $\\partial w = \\sum_B g \\odot v \\odot s_{:D}$. One sigmoid over all rows
    replaces the separate sigmoid, swish and gather passes of autograd.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, index: Tensor, w: Tensor | None) -> Tensor:
        D = index.shape[0]
        s = torch.sigmoid(x)
        v, s_v, s_g = x[:D], s[:D], s.index_select(0, index)
        factor = s_g if w is None else torch.addcmul(s_g, s_v, w.unsqueeze(1))
        ctx.save_for_backward(x, index, s, s_g, factor, w)
        return v * factor

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        x, index, s, s_g, factor, w = ctx.saved_tensors
        D = index.shape[0]
        v, s_v = x[:D], s[:D]
        gv = g * v
        gx = torch.empty_like(x)
        gx[D:].zero_()  # gate rows: only the index_add below reaches them
        gx_v = gx[:D]
        torch.mul(g, factor, out=gx_v)
        gw = None
        if w is not None:
            gx_v.addcmul_(_sigmoid_backward(gv, s_v), w.unsqueeze(1))
            if ctx.needs_input_grad[2]:
                gw = (gv * s_v).sum(1)
        gx.index_add_(0, index, _sigmoid_backward(gv, s_g))
        return gx, None, gw


class GatedNonlinearity(nn.Module):
    """$y_s = \\mathrm{swish}(x_s)$ on scalars, $y_v = x_v\\,\\sigma(x_{gate(v)})$ on
    non-scalar copies; gate scalars are consumed. Equivariant for every group,
    since gates are invariant scalars.

    Args:
        rep: The representation produced (the input is `gated(rep)`).

    Shape:
        Input `(*, gated(rep).dim)`, output `(*, rep.dim)`.
    """

    def __init__(self, rep: Rep) -> None:
        super().__init__()
        self.rep = rep
        self.in_dim = gated(rep).dim
        self.register_buffer("_gate_index", gate_index(rep), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(
                f"{type(self).__name__} expects last dim {self.in_dim} "
                f"(gated {self.rep}), got input of shape {tuple(x.shape)}"
            )
        h = x.reshape(-1, self.in_dim).T
        y = self.forward_features_first(h).T
        return y.contiguous().reshape(*x.shape[:-1], self.rep.dim)

    def forward_features_first(self, h: Tensor) -> Tensor:
        """The same map on features-first input: `h` `(gated(rep).dim, B)` ->
        `(rep.dim, B)` (see `_GateFunction` for the fused computation)."""
        if h.ndim != 2 or h.shape[0] != self.in_dim:
            raise ValueError(
                f"{type(self).__name__} expects features-first input "
                f"({self.in_dim}, B) (gated {self.rep}), got shape {tuple(h.shape)}"
            )
        return _GateFunction.apply(h.contiguous(), self._gate_index, self._w())

    def _w(self) -> Tensor | None:
        """Weight of the element-wise swish path (none here)."""
        return None


class RPPGatedNonlinearity(GatedNonlinearity):
    """The reference's default gate: `GatedNonlinearity` plus $w \\odot
    \\mathrm{swish}(x)$ on every channel, with a trainable `w` initialised to 1e-3.

    The extra path is element-wise and so not equivariant for any group; the
    reference decays it with `gated_wd = 1` (see `gate_parameters`).

    Shape:
        Input `(*, gated(rep).dim)`, output `(*, rep.dim)`.
    """

    def __init__(self, rep: Rep, init: float = 1e-3) -> None:
        super().__init__(rep)
        self.w_gated = nn.Parameter(torch.full((rep.dim,), float(init)))

    def _w(self) -> Tensor | None:
        return self.w_gated
