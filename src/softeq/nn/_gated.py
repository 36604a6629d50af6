"""Gated nonlinearities: swish on scalars, sigmoid gates on every non-scalar copy."""

from __future__ import annotations

import torch
from torch import Tensor, nn

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
        values = x[..., : self.rep.dim]
        return values * torch.sigmoid(x.index_select(-1, self._gate_index))


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

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        return out + self.w_gated * torch.nn.functional.silu(x[..., : self.rep.dim])
