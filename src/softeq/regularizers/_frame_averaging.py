"""Frame averaging (Puny et al. 2022): an exactly O(3)-equivariant wrapper for any
model whose input contains a 3-D point set."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..groups import Group, get
from ..reps import Rep
from ._checks import check_batch, check_output, check_rep

_D = 3
# All 8 sign patterns for the columns of a frame, shape (8, 3).
_SIGNS = torch.tensor(list(itertools.product((1.0, -1.0), repeat=_D)))


def vector_positions(rep: Rep) -> Tensor:
    """Flat positions of the vector (type V) copies of `rep`, in layout order.

    Reads `rep.blocks` (copies of a type are contiguous in the block layout) and maps
    block-layout coordinates through `rep.index` when the rep is permuted.

    Returns:
        Long tensor of shape `(n_vectors, d)`: `x[..., pos]` is `(..., n_vectors, d)`.
    """
    d = rep.group.d
    starts, start = [], 0
    for mult, ttype in rep.blocks:
        k = ttype.dim(d)
        if ttype.factors == ("V",):
            starts.extend(range(start, start + mult * k, k))
        start += mult * k
    block = torch.tensor(starts, dtype=torch.long).reshape(-1, 1) + torch.arange(d)
    return block if rep.index is None else rep.index[block]


class FrameAveraged(nn.Module):
    """Average `model` over the 8 PCA frames of a point set: exactly O(3)-equivariant.

    The vector copies of `rep_in` are read as points $p_1..p_n \\in R^3$. With
    $C = \\frac1n \\sum_i (p_i - \\bar p)(p_i - \\bar p)^T$ and $F$ its eigenvectors (as
    columns, eigenvalues ascending), the frames are $F S$ for the 8 diagonal sign
    matrices $S$, and

    $$\\Phi(x) = \\frac18 \\sum_S \\rho_{out}(FS)\\,
    \\text{model}\\big(\\rho_{in}(FS)^T x\\big).$$

    Under $x \\mapsto \\rho_{in}(g)x$, $g \\in O(3)$, the frame set becomes
    $\\{gFS\\}$, so $\\Phi(\\rho_{in}(g)x) = \\rho_{out}(g)\\Phi(x)$ for *any* model
    (Puny et al. 2022, "Frame Averaging for Invariant and Equivariant Network
    Design"). $\\rho_{in}(F)^T = \\rho_{in}(F)^{-1}$ because tensor reps of
    orthogonal matrices are orthogonal. Frames are per sample; all 8 of a batch go
    through one batched call of `model`.

    Caveat: equivariance is exact only when the eigenvalues of $C$ are distinct.
    For (near-)degenerate spectra — isotropic or symmetric point sets, fewer than
    three points in general position — the eigenvectors of a repeated eigenvalue are
    not unique, the frame is not equivariant, and neither is $\\Phi$ (its error
    grows as the eigenvalue gap shrinks). Only O(3) is handled; no translation
    equivariance (the points are centred for the frame only).

    Args:
        model: Maps `(batch, rep_in.dim)` to `(batch, rep_out.dim)`; registered as a
            submodule.
        rep_in: Input representation on $R^3$ with at least 3 vector copies.
        rep_out: Output representation on $R^3$.

    Shape:
        Input `(batch, rep_in.dim)`, output `(batch, rep_out.dim)`.

    Example:
        >>> import torch
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
        >>> fa = FrameAveraged(torch.nn.Linear(20, 9), rep_in, rep_out)
        >>> fa(torch.randn(4, 20)).shape
        torch.Size([4, 9])
    """

    def __init__(
        self, model: Callable[[Tensor], Tensor], rep_in: Rep, rep_out: Rep
    ) -> None:
        super().__init__()
        who = type(self).__name__
        if not callable(model):
            raise ValueError(f"{who}: model must be callable, got {type(model)}")
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            check_rep(rep, name, who)
            if rep.group.d != _D:
                raise ValueError(
                    f"{who} handles O(3): {name} {rep} must act on R^3, but its group "
                    f"{rep.group.name} acts on R^{rep.group.d}"
                )
        points = vector_positions(rep_in)
        if points.shape[0] < _D:
            raise ValueError(
                f"{who} reads the vector copies of rep_in as a point set and needs at "
                f"least 3 of them, got {points.shape[0]} in {rep_in}"
            )
        self.model = model
        self.rep_in, self.rep_out = rep_in, rep_out
        self.register_buffer("_points", points, persistent=False)

    @property
    def point_index(self) -> Tensor:
        """Flat positions of the points in the input, `(n_points, 3)`, long.

        `x[:, fa.point_index]` is the point set `(batch, n_points, 3)`.
        """
        return self._points

    def frames(self, x: Tensor) -> Tensor:
        """The 8 signed PCA frames of each sample.

        Args:
            x: Inputs, shape `(batch, rep_in.dim)`.

        Returns:
            Orthogonal matrices $FS$, shape `(batch, 8, 3, 3)`, in `x`'s dtype.
        """
        check_batch(x, self.rep_in, type(self).__name__)
        points = x[:, self._points]
        centred = points - points.mean(dim=1, keepdim=True)
        cov = centred.transpose(-1, -2) @ centred / points.shape[1]
        F = torch.linalg.eigh(cov).eigenvectors
        signs = _SIGNS.to(dtype=x.dtype, device=x.device)
        return F.unsqueeze(1) * signs[None, :, None, :]

    def forward(self, x: Tensor) -> Tensor:
        """Frame-averaged prediction.

        Args:
            x: Inputs, shape `(batch, rep_in.dim)`.

        Returns:
            Predictions, shape `(batch, rep_out.dim)`.
        """
        frames = self.frames(x)
        batch, n_frames = frames.shape[:2]
        # block by block (`Rep.act`); a frame is orthogonal, its inverse F^T
        x_canon = self.rep_in.act(frames.transpose(-1, -2), x[:, None, :])
        rows = batch * n_frames
        y = self.model(x_canon.reshape(rows, -1))
        y = check_output(y, self.rep_out, rows, type(self).__name__)
        y = y.reshape(batch, n_frames, -1)
        return self.rep_out.act(frames, y).mean(dim=1)

    @property
    def symmetry_constraint(self) -> tuple[Group, str]:
        """O(3), which frame averaging makes the model respect exactly (read by the
        symmetry report)."""
        return get("O3"), "frame-averaged over O3"

    def extra_repr(self) -> str:
        return f"{self.rep_in} -> {self.rep_out}, points={self._points.shape[0]}"
