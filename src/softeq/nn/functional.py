"""Stateless helpers shared by the layers."""

from __future__ import annotations

from torch import Tensor, nn


def num_parameters(module: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters of `module`."""
    return sum(
        p.numel() for p in module.parameters() if p.requires_grad or not trainable_only
    )


def check_features(name: str, x: Tensor, dim: int, what: str) -> None:
    """Raise a `ValueError` naming `what` unless `x.shape[-1] == dim`."""
    if x.ndim < 1 or x.shape[-1] != dim:
        raise ValueError(
            f"{name} expects last dim {dim} ({what}), "
            f"got input of shape {tuple(x.shape)}"
        )
