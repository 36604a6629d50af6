"""Group averaging of a trained model: $\\bar f(x) = \\mathrm{mean}_k\\,
\\rho_{out}(g_k)^{-1} f(\\rho_{in}(g_k)x)$."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..groups import Group
from ..reps import Rep
from ._checks import check_batch, check_output, check_wrapper_args


class GroupAveraged(nn.Module):
    """Average `model` over a fixed set of group elements.

    $\\bar f(x) = \\frac1K\\sum_{k=1}^K \\rho_{out}(g_k)^{-1}\\,
    \\text{model}(\\rho_{in}(g_k)x)$ with $g_1, \\dots, g_K$ drawn once, at
    construction (or given as `elements`), so the wrapper is a deterministic
    function. When the symmetry report calls a group exact, this is the model its
    ``averaged_mse`` column measured (same sampler, same generator seed): averaging
    removes the part of the model that breaks the group, and for an exact symmetry
    its held-out MSE is never above that of predicting through one random element.

    If `elements` is a whole finite group (each element once), $\\bar f$ is exactly
    equivariant for it; with sampled elements it is equivariant only on average.
    $\\rho_{out}(g)^{-1}$ is $\\rho_{out}(g^{-1})$, valid for any representation.

    Args:
        model: Maps `(batch, rep_in.dim)` to `(batch, rep_out.dim)`; registered as a
            submodule.
        group: The group to average over (or its registry name), acting on the
            same $R^d$ as the reps.
        rep_in: Input representation (layout; re-bound to `group`).
        rep_out: Output representation (layout; re-bound to `group`).
        n_samples: $K$, elements drawn when `elements` is None.
        elements: Explicit elements `(K, d, d)` instead of samples.
        scale: Lie-algebra sampling scale (bound it for non-compact groups).
        generator: Randomness of the samples.

    Shape:
        Input `(batch, rep_in.dim)`, output `(batch, rep_out.dim)`; the model is
        called once on `(K * batch, rep_in.dim)`.

    Example:
        Averaging a dense map over the four rotations of C4 makes it commute with
        them.

        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("C4")
        >>> rep = parse("V", G)
        >>> r = G.discrete_generators[0]
        >>> turns = torch.stack([torch.linalg.matrix_power(r, k) for k in range(4)])
        >>> dense = torch.nn.Linear(2, 2, bias=False).double()
        >>> f = GroupAveraged(dense, G, rep, rep, elements=turns)
        >>> x = torch.randn(5, 2, dtype=torch.float64)
        >>> torch.allclose(f(x @ r.T), f(x) @ r.T)
        True
    """

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        group: Group | str,
        rep_in: Rep,
        rep_out: Rep,
        *,
        n_samples: int = 16,
        elements: Tensor | None = None,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        who = type(self).__name__
        self.group, self.rep_in, self.rep_out = check_wrapper_args(
            model, group, rep_in, rep_out, who
        )
        d = self.group.d
        if elements is None:
            if (
                isinstance(n_samples, bool)
                or not isinstance(n_samples, int)
                or n_samples < 1
            ):
                raise ValueError(
                    f"{who}: n_samples must be an int >= 1, got {n_samples!r}"
                )
            elements = self.group.sample(n_samples, scale=scale, generator=generator)
        elif elements.ndim != 3 or elements.shape[1:] != (d, d) or not len(elements):
            raise ValueError(
                f"{who}: elements must have shape (K >= 1, {d}, {d}), got "
                f"{tuple(elements.shape)}"
            )
        elements = elements.to(torch.float64)
        self.model = model
        self.register_buffer("rho_in", self.rep_in.rho(elements))
        self.register_buffer(
            "rho_out_inv", self.rep_out.rho(torch.linalg.inv(elements))
        )

    def forward(self, x: Tensor) -> Tensor:
        """The group-averaged prediction.

        Args:
            x: Inputs, shape `(batch, rep_in.dim)`.

        Returns:
            Predictions, shape `(batch, rep_out.dim)`.
        """
        who = type(self).__name__
        check_batch(x, self.rep_in, who)
        like = {"dtype": x.dtype, "device": x.device}
        rho_in, rho_back = self.rho_in.to(**like), self.rho_out_inv.to(**like)
        K, B = rho_in.shape[0], x.shape[0]
        x_g = torch.einsum("kij,bj->kbi", rho_in, x).reshape(K * B, -1)
        y = check_output(self.model(x_g), self.rep_out, K * B, who)
        return torch.einsum("kij,kbj->bi", rho_back, y.reshape(K, B, -1)) / K

    @property
    def symmetry_constraint(self) -> tuple[Group, str]:
        """The group the prediction is averaged over, and how (read by the
        symmetry report)."""
        return self.group, f"averaged over {self.group.name}"

    def extra_repr(self) -> str:
        return (
            f"group={self.group.name}, {self.rep_in} -> {self.rep_out}, "
            f"elements={self.rho_in.shape[0]}"
        )
