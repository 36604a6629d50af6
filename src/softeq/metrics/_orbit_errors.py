"""Errors along a one-parameter orbit $g(t) = \\exp(tA)$ (NERO-style evaluation)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..groups import Group, as_group
from ..reps import Rep


def orbit_parameters(
    group: Group | str, n_points: int = 64
) -> tuple[Tensor, str] | None:
    """Grid of t for the orbit of the group's first Lie generator, and its label.

    A rotation generator ($A^T = -A$) gets angles in $[0, 2\\pi)$; any other
    (scaling, boosts) gets $t \\in [-1, 1]$ (a log-scale for scaling). Groups without
    a Lie algebra have no such orbit: None. `group` is a `Group` or a registry name.

    Example:
        >>> ts, label = orbit_parameters("O2z", n_points=4)
        >>> label, ts.tolist()[:2]
        ('angle', [0.0, 1.5707963267948966])
        >>> orbit_parameters("S4") is None
        True
    """
    group = as_group(group)
    if group.lie_algebra.shape[0] == 0:
        return None
    A = group.lie_algebra[0]
    if torch.allclose(A, -A.T):
        return torch.arange(n_points, dtype=torch.float64) * (
            2 * math.pi / n_points
        ), "angle"
    return torch.linspace(-1.0, 1.0, n_points, dtype=torch.float64), "log-scale"


def orbit_errors(
    f: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    group: Group | str,
    x: Tensor,
    ts: Tensor,
    *,
    target: Callable[[Tensor], Tensor] | None = None,
) -> dict[str, Tensor]:
    """Relative equivariance error (and task error) of `f` along $\\exp(tA_1)$.

    Args:
        f: Model or function, `(n, rep_in.dim) -> (n, rep_out.dim)`.
        rep_in: Input layout (re-bound to `group`).
        rep_out: Output layout.
        group: Group (or registry name) whose first Lie generator defines the
            orbit.
        x: Inputs, `(n, rep_in.dim)`.
        ts: Orbit parameters, `(T,)`.
        target: Ground truth; adds the task MSE of `f` on transformed inputs.

    Returns:
        ``{"equivariance_error": (T,), "task_mse": (T,)}`` (task_mse when `target`).
    """
    group = as_group(group)
    rep_in, rep_out = rep_in.with_group(group), rep_out.with_group(group)
    gs = torch.linalg.matrix_exp(ts[:, None, None] * group.lie_algebra[0])
    out: dict[str, list[float]] = {"equivariance_error": [], "task_mse": []}
    with torch.no_grad():
        fx = f(x)
        for g in gs:
            gx = x @ rep_in.rho(g).to(dtype=x.dtype, device=x.device).T
            rho_out = rep_out.rho(g).to(dtype=x.dtype, device=x.device)
            lhs, rhs = f(gx), fx @ rho_out.T
            rel = (lhs - rhs).norm(dim=-1) / (
                lhs.norm(dim=-1) + rhs.norm(dim=-1)
            ).clamp_min(1e-12)
            out["equivariance_error"].append(float(rel.mean()))
            if target is not None:
                out["task_mse"].append(float((lhs - target(gx)).square().mean()))
    return {k: torch.tensor(v) for k, v in out.items() if v}
