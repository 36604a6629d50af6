"""Per-point held-out errors, and summaries of them that a few outliers cannot move.

A test MSE is the mean over points of each point's squared error, so one point far
outside the training inputs can multiply it several times while every other
prediction is good. The summaries here say how much of a mean is such points.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

#: Share of the points `error_spread` leaves out of its trimmed mean: the worst 1 %.
TRIM_SHARE = 0.01


def point_errors(
    model: nn.Module | Callable[[Tensor], Tensor], x: Tensor, y: Tensor,
    batch: int = 1000,
) -> Tensor:  # fmt: skip
    """Each point's squared error, averaged over its target entries:
    $e_i = \\frac{1}{d}\\sum_j (f(x_i)_j - y_{ij})^2$, float64, shape `(n,)`.

    Their mean is the held-out MSE (per target entry). An `nn.Module` is
    evaluated in eval mode, without gradients, and left in the mode it was in.

    Raises:
        ValueError: If `x` and `y` do not hold the same number of points, or the
            predictions do not have `y`'s shape.
    """
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"point_errors needs the same positive number of inputs and targets, "
            f"got {x.shape[0]} and {y.shape[0]}"
        )
    training = model.training if isinstance(model, nn.Module) else None
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.inference_mode():
            prediction = torch.cat([model(xb) for xb in x.split(batch)])
    finally:
        if training is not None:
            model.train(training)
    if prediction.shape != y.shape:
        raise ValueError(
            f"point_errors: predictions of shape {tuple(prediction.shape)} do not "
            f"match targets of shape {tuple(y.shape)}"
        )
    diff = (prediction.double() - y.double()).reshape(y.shape[0], -1)
    return diff.square().mean(dim=1)


def error_spread(errors: Tensor, trim: float = TRIM_SHARE) -> dict[str, float]:
    """Summaries of per-point errors `errors` (`point_errors`) beside their mean.

    Returns:
        ``mean`` (the MSE); ``median``; ``trimmed``, the mean without the worst
        $\\lceil \\text{trim}\\cdot n\\rceil$ points (the MSE a few outliers cannot
        move; equal to ``mean`` when none stands out); ``worst``, the largest;
        and ``worst_share``, the share of the summed error that those left-out
        points carry (``trim`` when errors are equal, near 1 when a few points
        are the whole MSE).

    Raises:
        ValueError: If `errors` is not a non-empty 1-d tensor of finite,
            non-negative values, or `trim` is not in [0, 1).
    """
    if errors.ndim != 1 or errors.numel() == 0:
        raise ValueError(
            f"error_spread needs a non-empty 1-d tensor, got {tuple(errors.shape)}"
        )
    if not 0.0 <= trim < 1.0:
        raise ValueError(f"error_spread: trim must be in [0, 1), got {trim}")
    e = errors.double()
    if not bool(torch.isfinite(e).all()) or bool((e < 0).any()):
        raise ValueError("error_spread: errors must be finite and non-negative")
    n = e.numel()
    cut = min(n - 1, math.ceil(trim * n))
    ordered = e.sort().values
    kept = ordered[: n - cut]
    total = float(e.sum())
    return {
        "mean": float(e.mean()),
        "median": float(ordered[(n - 1) // 2 : n // 2 + 1].mean()),
        "trimmed": float(kept.mean()),
        "worst": float(ordered[-1]),
        "worst_share": float(ordered[n - cut :].sum()) / total if total > 0 else 0.0,
    }


#: What `spread_fields` reports, each as ``PREFIX_NAME`` (e.g. ``test_trimmed_mse``).
SPREAD_FIELDS = ("trimmed_mse", "median_se", "worst_share")


def spread_fields(
    model: nn.Module | Callable[[Tensor], Tensor], x: Tensor, y: Tensor,
    prefix: str = "test",
) -> dict[str, float]:  # fmt: skip
    """`error_spread` of `model` on `(x, y)` as a run summary's fields:
    ``{prefix}_trimmed_mse`` (the MSE without the worst 1 % of points),
    ``{prefix}_median_se`` (the median point's squared error) and
    ``{prefix}_worst_share`` (the share of the MSE in that worst 1 %)."""
    spread = error_spread(point_errors(model, x, y))
    names = dict(zip(SPREAD_FIELDS, ("trimmed", "median", "worst_share"), strict=True))
    return {f"{prefix}_{field}": spread[key] for field, key in names.items()}
