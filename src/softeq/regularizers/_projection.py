"""The projection penalty: per candidate group, the distance of every soft linear map
to that group's equivariant maps."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..basis import ProjectorStack
from ..nn import soft_layers


class ProjectionPenalty:
    """Per candidate group $j$, the distance of every `SoftLinear` to $G_j$:
    $R_j = \\sum_l \\tfrac12\\|W_l - P_{l,j}W_l\\|^2
    + \\tfrac12\\|b_l - P_{l,j}b_l\\|^2$.

    Layers are found by type (never by parameter name) when the penalty is built;
    a group's term sums the layers that list it as a candidate. When every layer
    has the same candidates (as in `SoftEMLP`), all layers are evaluated in one
    fused pass (`softeq.basis.ProjectorStack`).

    Args:
        model: Any module containing `SoftLinear` layers.

    Raises:
        ValueError: If `model` has no `SoftLinear` layer.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> from softeq.nn.models import SoftEMLP
        >>> G = [get("O3"), get("O2z")]
        >>> model = SoftEMLP(parse("V", G[0]), parse("V", G[0]), G, ch=16)
        >>> sorted(ProjectionPenalty(model)(exact=True))
        ['O2z', 'O3']
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = soft_layers(model)
        if not self.layers:
            raise ValueError(
                f"{type(model).__name__} has no SoftLinear layer to penalise; build it "
                "with softeq.nn.SoftLinear (e.g. softeq.nn.models.SoftEMLP)"
            )
        names: list[str] = []
        for layer in self.layers:
            names += [g.name for g in layer.groups if g.name not in names]
        self.group_names = tuple(names)
        same = all(
            tuple(g.name for g in layer.groups) == self.group_names
            for layer in self.layers
        )
        self._stack = (
            ProjectorStack([layer.projectors for layer in self.layers])
            if same
            else None
        )

    def __call__(self, *, exact: bool = False) -> dict[str, Tensor]:
        """`{group name: R_j}`; differentiable unless `exact` (float64, no grad)."""
        if self._stack is not None:
            params = [(layer.weight, layer.bias) for layer in self.layers]
            if exact:
                with torch.no_grad():
                    values = self._stack.residuals(params, exact=True)
            else:
                values = self._stack.residuals(params)
            return dict(zip(self.group_names, values.unbind(), strict=True))
        totals: dict[str, Tensor] = {}
        for layer in self.layers:
            for name, value in layer.penalties(exact=exact).items():
                totals[name] = value if name not in totals else totals[name] + value
        return totals

    def per_layer(self) -> list[dict[str, float]]:
        """Exact `{group name: R_{l,j}}` of every layer, in order."""
        return [
            {k: float(v) for k, v in layer.penalties(exact=True).items()}
            for layer in self.layers
        ]
