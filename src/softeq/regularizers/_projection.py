"""The projection penalty: per candidate group, the distance of every soft linear map
to that group's equivariant maps."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import Tensor, nn

from ..basis import ProjectorStack
from ..nn import SoftLinear, soft_layers


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

    @torch.no_grad()
    def project(self, group: str) -> None:
        """Put every soft layer on `group`'s equivariant maps: $W \\leftarrow
        P_jW$, $b \\leftarrow P_jb$ (so $R_j = 0$, and $R_k = 0$ for every
        candidate $k$ that `group` contains). Layers without `group` as a
        candidate are left as they are.

        Raises:
            ValueError: If no soft layer has `group` as a candidate.
        """
        pairs = list(self._on_group(group))
        if not pairs:
            raise ValueError(
                f"project: no soft layer has {group!r} as a candidate; candidates: "
                f"{', '.join(self.group_names)}"
            )
        for param, project in pairs:
            param.copy_(project(param))

    def hidden(self, group: str) -> Tensor:
        """$R^{hid}_j = \\sum_{l < L} \\tfrac12\\|W_l - P_{l,j}W_l\\|^2 +
        \\tfrac12\\|b_l - P_{l,j}b_l\\|^2$: group $j$'s penalty on every soft layer
        but the last (differentiable). `TrainConfig.hidden_strength` applies it
        for the largest candidate as proximal steps (`proximal_hidden`): hidden
        layers held on its maps while the tuned penalties decide how far the
        output map leaves them.

        Raises:
            ValueError: With fewer than two soft layers, or if no hidden layer has
                `group` as a candidate.
        """
        return torch.stack([
            layer.projectors.projectors[group].residual(layer.weight, layer.bias)
            for layer in self._hidden_on(group)
        ]).sum()  # fmt: skip

    @torch.no_grad()
    def proximal_hidden(self, group: str, strength: float, step: float) -> None:
        """`proximal_step` for `group` on every soft layer but the last: the
        proximal map of `hidden`'s penalty at `strength`.

        Raises:
            ValueError: As `hidden`, or for a negative or non-finite step or
                strength.
        """
        self._proximal({group: strength}, step, self._hidden_on(group))

    def _hidden_on(self, group: str) -> list[SoftLinear]:
        """The soft layers but the last that have `group` as a candidate."""
        if len(self.layers) < 2:
            raise ValueError(
                "the model has one SoftLinear layer, so no hidden layer to "
                "penalise; a hidden-layer penalty needs at least two"
            )
        layers = [
            layer for layer in self.layers[:-1] if group in layer.projectors.projectors
        ]
        if not layers:
            raise ValueError(
                f"no hidden soft layer has {group!r} as a candidate; candidates: "
                f"{', '.join(self.group_names)}"
            )
        return layers

    def _on_group(
        self, group: str, layers: list[SoftLinear] | None = None
    ) -> Iterator[tuple[Tensor, Callable]]:
        """`(parameter, projection onto group's maps)` for the weight and the bias
        of every soft layer (of `layers`, default all) that has `group` as a
        candidate."""
        for layer in self.layers if layers is None else layers:
            if group not in layer.projectors.projectors:
                continue  # a group this layer is not penalised for
            projector = layer.projectors.projectors[group]
            yield layer.weight, projector.project
            yield layer.bias, projector.project_bias

    @torch.no_grad()
    def proximal_step(self, strengths: Mapping[str, float], step: float) -> None:
        """Move every soft layer toward each group's maps by the exact proximal map
        of its penalty: $W \\leftarrow P_jW + (W - P_jW)/(1 + \\eta\\lambda_j)$
        (and the same for the bias), for every group $j$ with $\\lambda_j > 0$.

        This is $\\mathrm{prox}_{\\eta\\lambda_j R_j}(W) = \\arg\\min_V
        \\tfrac12\\|V - W\\|^2 + \\eta\\lambda_j R_j(V)$ for $R_j =
        \\tfrac12\\|V - P_jV\\|^2$: it shrinks only the part of $W$ off $G_j$'s maps,
        by a factor that stays in (0, 1] for every strength, so a stiff penalty
        cannot destabilise training, and it never enters the optimiser's moment
        estimates (the penalty is *decoupled*, as AdamW decouples weight decay).
        Several groups are applied one after another (a splitting of their sum);
        this is exact when their projectors commute, as for nested groups
        ($P_{O3}P_{O2z} = P_{O2z}P_{O3} = P_{O3}$), and a first-order splitting
        otherwise.

        Args:
            strengths: $\\lambda_j$ per group name (groups absent or at 0 are
                skipped).
            step: The step size $\\eta > 0$, normally the optimiser's current
                learning rate.

        Raises:
            ValueError: For a negative or non-finite step or strength.
        """
        self._proximal(strengths, step, self.layers)

    def _proximal(
        self, strengths: Mapping[str, float], step: float, layers: list[SoftLinear]
    ) -> None:
        """`proximal_step` on `layers`."""
        if not (math.isfinite(step) and step >= 0):
            raise ValueError(f"proximal_step: step must be finite and >= 0, got {step}")
        for name, strength in strengths.items():
            if not (math.isfinite(strength) and strength >= 0):
                raise ValueError(
                    f"proximal_step: strength of {name} must be finite and >= 0, "
                    f"got {strength}"
                )
            if strength == 0 or step == 0:
                continue
            keep = 1.0 / (1.0 + step * strength)
            for param, project in self._on_group(name, layers):
                on_group = project(param)
                param.sub_(on_group).mul_(keep).add_(on_group)
