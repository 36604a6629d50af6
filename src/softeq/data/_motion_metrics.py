"""Displacement errors of trajectory forecasts: ADE, FDE, and the task-side metric."""

from __future__ import annotations

import torch
from torch import Tensor


def _check_pair(prediction: Tensor, target: Tensor, who: str) -> None:
    if prediction.shape != target.shape or prediction.ndim < 3:
        raise ValueError(
            f"{who} expects prediction and target of the same shape "
            "(..., steps, points, 3), got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
    if prediction.shape[-1] != 3:
        raise ValueError(
            f"{who} expects 3-D positions in the last dim, got shape "
            f"{tuple(prediction.shape)}"
        )


def ade(prediction: Tensor, target: Tensor) -> Tensor:
    """Average displacement error: the mean Euclidean distance over everything.

    $\\mathrm{ADE} = \\frac{1}{N T K}\\sum_{n,t,k}\\|\\hat p_{ntk} - p_{ntk}\\|_2$.

    Args:
        prediction: Predicted positions, `(n, steps, points, 3)` (any leading dims).
        target: True positions, same shape.

    Returns:
        0-d tensor in the units of the inputs.

    Raises:
        ValueError: If the shapes differ or the last dim is not 3.

    Example:
        >>> p = torch.zeros(1, 2, 1, 3)
        >>> q = torch.tensor([[[[3.0, 4.0, 0.0]], [[0.0, 0.0, 1.0]]]])
        >>> float(ade(p, q))
        3.0
    """
    _check_pair(prediction, target, "ade")
    return (prediction - target).norm(dim=-1).mean()


def fde(prediction: Tensor, target: Tensor) -> Tensor:
    """Final displacement error: the mean Euclidean distance at the last step.

    $\\mathrm{FDE} = \\frac{1}{N K}\\sum_{n,k}\\|\\hat p_{nTk} - p_{nTk}\\|_2$.

    Args:
        prediction: Predicted positions, `(n, steps, points, 3)`.
        target: True positions, same shape.

    Returns:
        0-d tensor in the units of the inputs.

    Raises:
        ValueError: If the shapes differ or the last dim is not 3.

    Example:
        >>> p = torch.zeros(1, 2, 1, 3)
        >>> q = torch.tensor([[[[3.0, 4.0, 0.0]], [[0.0, 0.0, 1.0]]]])
        >>> float(fde(p, q))
        1.0
    """
    _check_pair(prediction, target, "fde")
    return (prediction[..., -1, :, :] - target[..., -1, :, :]).norm(dim=-1).mean()


class MotionMetrics:
    """ADE and FDE in physical units from flattened, normalised forecasts.

    A motion task's targets are $y = (p - c)/\\sigma$ flattened time-major, then
    point, then xyz, with $\\sigma$ one scale per axis (all three equal for the
    isotropic normalisation). This undoes $\\sigma$ (the centring $c$ cancels in
    differences) and reports `ade` and `fde`. It is the `metrics` of such a `Task`.

    With ``target="residual"`` the targets are $r = y - CV(x)$, the residual to
    the constant-velocity forecast of the window's past. A predicted residual
    $\\hat r$ forecasts $CV(x) + \\hat r$, so the displacement error of that
    forecast, $(CV(x) + \\hat r) - (CV(x) + r) = \\hat r - r$, needs no $x$:
    adding $CV(x)$ back to prediction and target alike leaves ADE and FDE
    unchanged, and the same call serves both targets.

    Args:
        scale: $\\sigma$ per axis, `(3,)`, in `units` per normalised unit.
        n_steps: Future steps per sample.
        n_points: Points per step.
        units: Physical units of the result, e.g. ``"m"``.
        dt: Seconds per step.
        target: ``"positions"`` or ``"residual"`` (to constant velocity): what
            the flattened targets are; reported, and used by reference
            forecasts (`softeq.bench`) to express theirs in the same terms.

    Shape:
        Call with `prediction`, `target` of shape `(n, n_steps * n_points * 3)`.
    """

    def __init__(
        self,
        scale: Tensor,
        *,
        n_steps: int,
        n_points: int,
        units: str,
        dt: float,
        target: str = "positions",
    ) -> None:
        if target not in ("positions", "residual"):
            raise ValueError(
                "MotionMetrics: target must be 'positions' or 'residual', got "
                f"{target!r}"
            )
        self.scale = torch.as_tensor(scale, dtype=torch.float64).reshape(3)
        self.n_steps, self.n_points = n_steps, n_points
        self.units, self.dt, self.target = units, dt, target

    def physical(self, y: Tensor) -> Tensor:
        """Un-normalise flattened targets `(n, n_steps * n_points * 3)` to
        positions `(n, n_steps, n_points, 3)` relative to each sample's centre
        (for ``target="residual"``: displacements from the constant-velocity
        forecast)."""
        width = self.n_steps * self.n_points * 3
        if y.ndim != 2 or y.shape[1] != width:
            raise ValueError(
                f"motion metrics expect (n, {width}) = (n, {self.n_steps} steps * "
                f"{self.n_points} points * 3), got {tuple(y.shape)}"
            )
        y = y.detach().to(torch.float64).reshape(-1, self.n_steps, self.n_points, 3)
        return y * self.scale.to(y.device)

    def __call__(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        """``{"ade": ..., "fde": ...}`` in `units` for normalised forecasts."""
        p, q = self.physical(prediction), self.physical(target)
        return {"ade": float(ade(p, q)), "fde": float(fde(p, q))}

    def __repr__(self) -> str:
        scale = ", ".join(f"{s:.4g}" for s in self.scale.tolist())
        target = "" if self.target == "positions" else f", target={self.target}"
        return (
            f"MotionMetrics(scale=({scale}) {self.units}, steps={self.n_steps}, "
            f"points={self.n_points}, dt={self.dt:g} s{target})"
        )
