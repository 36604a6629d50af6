"""Weight-space symmetry measures of soft layers."""

from __future__ import annotations

import torch
from torch import nn

from ..nn import soft_layers


def weight_residuals(model: nn.Module) -> dict[str, dict[str, object]]:
    """Normalised distance of each soft layer to each candidate's equivariant maps.

    For layer $l$ and group $j$: $\\|(I - P_j)w_l\\|^2 / \\|w_l\\|^2$ with $w_l$ the
    weight and bias stacked (0: exactly equivariant, 1: orthogonal to every
    equivariant map). The total pools all layers:
    $\\sum_l \\|(I - P_j)w_l\\|^2 / \\sum_l \\|w_l\\|^2$. Computed in float64.

    Returns:
        `{group name: {"layers": [float per SoftLinear], "total": float,
        "penalty": float}}`, where "penalty" is the unnormalised
        $R_j = \\sum_l \\tfrac12\\|(I - P_j)w_l\\|^2$.

    Raises:
        ValueError: If `model` has no `SoftLinear` layer.
    """
    layers = soft_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no SoftLinear layer to measure")
    residuals: dict[str, list[float]] = {}  # 2 R_{l,j} = ||(I - P_j) w_l||^2
    norms: dict[str, list[float]] = {}
    with torch.no_grad():
        for layer in layers:
            norm = float(layer.weight.double().square().sum())
            norm += float(layer.bias.double().square().sum())
            for name, value in layer.penalties(exact=True).items():
                residuals.setdefault(name, []).append(2 * float(value))
                norms.setdefault(name, []).append(norm)
    return {
        name: {
            "layers": [
                r / max(n, 1e-300) for r, n in zip(rs, norms[name], strict=True)
            ],
            "total": sum(rs) / max(sum(norms[name]), 1e-300),
            "penalty": sum(rs) / 2,
        }
        for name, rs in residuals.items()
    }
