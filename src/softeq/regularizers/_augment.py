"""Group data augmentation as a model wrapper (the "MLP + augmentation" baseline)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..groups import Group
from ..reps import Rep
from ._checks import check_batch, check_output, check_wrapper_args


class GroupAugmentation(nn.Module):
    """Wrap `model` so that training sees each input in a random group pose.

    In training mode every row $x_i$ of a batch gets its own $g_i \\sim G$ and the
    wrapper returns $\\rho_{out}(g_i)^{-1}\\,\\text{model}(\\rho_{in}(g_i)x_i)$. For a
    loss that is invariant under $\\rho_{out}$ (MSE with an orthogonal $\\rho_{out}$)
    this equals training `model` on the augmented pairs
    $(\\rho_{in}(g)x, \\rho_{out}(g)y)$ without touching the data pipeline. In eval
    mode the wrapper returns `model(x)` unchanged. A model that is exactly
    $G$-equivariant is unchanged by the wrapper in either mode.

    $\\rho_{out}(g)^{-1}$ is computed as $\\rho_{out}(g^{-1})$ (a homomorphism), which
    also holds for non-orthogonal representations.

    Args:
        model: Maps `(batch, rep_in.dim)` to `(batch, rep_out.dim)`; registered as a
            submodule.
        group: The group to augment with (or its registry name), acting on the
            same $R^d$ as the reps.
        rep_in: Input representation (layout; re-bound to `group`).
        rep_out: Output representation (layout; re-bound to `group`).
        scale: Lie-algebra sampling scale (bound it for non-compact groups).
        generator: Source of randomness for the group samples; the global one if
            None. Pass a seeded generator for reproducible training.

    Shape:
        Input `(batch, rep_in.dim)`, output `(batch, rep_out.dim)`.

    Example:
        Augmenting with rotations about z: an equivariant model is unchanged, a
        dense one is not.

        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("V", get("O3"))
        >>> gen = torch.Generator().manual_seed(0)
        >>> x = torch.randn(4, 3, dtype=torch.float64)
        >>> aug = GroupAugmentation(lambda v: 3 * v, "O2z", rep, rep, generator=gen)
        >>> torch.allclose(aug(x), 3 * x)
        True
        >>> dense = torch.nn.Linear(3, 3, bias=False).double()
        >>> aug = GroupAugmentation(dense, "O2z", rep, rep, generator=gen)
        >>> torch.allclose(aug(x), dense(x))
        False
    """

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        group: Group | str,
        rep_in: Rep,
        rep_out: Rep,
        *,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        who = type(self).__name__
        self.group, self.rep_in, self.rep_out = check_wrapper_args(
            model, group, rep_in, rep_out, who
        )
        if not scale >= 0:
            raise ValueError(f"{who}: scale must be >= 0, got {scale}")
        self.model = model
        self.scale = float(scale)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        """Augmented prediction in training mode, `model(x)` in eval mode.

        Args:
            x: Inputs, shape `(batch, rep_in.dim)`.

        Returns:
            Predictions, shape `(batch, rep_out.dim)`.
        """
        who = type(self).__name__
        check_batch(x, self.rep_in, who)
        if not self.training:
            return self.model(x)
        gs = self.group.sample(x.shape[0], scale=self.scale, generator=self.generator)
        # block by block (`Rep.act`): no (batch, dim, dim) matrices
        y = self.model(self.rep_in.act(gs, x))
        y = check_output(y, self.rep_out, x.shape[0], who)
        return self.rep_out.act(torch.linalg.inv(gs), y)

    @property
    def symmetry_constraint(self) -> tuple[Group, str]:
        """The group the wrapped model is trained to respect, and how (read by the
        symmetry report: its breaking for this group and every subgroup is not
        evidence about the data)."""
        return self.group, f"trained with augmentation by {self.group.name}"

    def extra_repr(self) -> str:
        return (
            f"group={self.group.name}, {self.rep_in} -> {self.rep_out}, "
            f"scale={self.scale}"
        )
