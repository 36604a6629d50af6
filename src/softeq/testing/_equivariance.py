"""Equivariance checks that ship with the library: use them on your own layers."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..reps import Rep
from ._tolerances import tolerance


def relative_error(a: Tensor, b: Tensor, eps: float = 1e-12) -> Tensor:
    """$\\|a - b\\| / (\\|a\\| + \\|b\\|)$: scale-free, 0 when equal, never above 1."""
    return (a - b).norm() / (a.norm() + b.norm()).clamp_min(eps)


def equivariance_gap(
    f: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    *,
    n_elements: int = 8,
    n_inputs: int = 16,
    scale: float = 1.0,
    dtype: torch.dtype = torch.float64,
    generator: torch.Generator | None = None,
) -> float:
    """Worst relative error of $f(\\rho_{in}(g)x)$ vs $\\rho_{out}(g)f(x)$ over g.

    Inputs are standard normal `(n_inputs, rep_in.dim)`; group elements come from
    `rep_in.group.sample(n_elements, scale=scale)` (bound `scale` for non-compact
    groups).
    """
    if rep_in.group != rep_out.group:
        raise ValueError(
            f"rep_in and rep_out must share a group, got {rep_in.group.name} and "
            f"{rep_out.group.name}"
        )
    x = torch.randn(n_inputs, rep_in.dim, dtype=torch.float64, generator=generator).to(
        dtype
    )
    gs = rep_in.group.sample(n_elements, scale=scale, generator=generator)
    worst = 0.0
    with torch.no_grad():
        fx = f(x)
        for g in gs:
            lhs = f(rep_in.act(g, x))
            rhs = rep_out.act(g, fx)
            worst = max(worst, float(relative_error(lhs, rhs)))
    return worst


def assert_equivariant(
    f: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    *,
    n_elements: int = 8,
    scale: float = 1.0,
    dtype: torch.dtype = torch.float64,
    check: str = "layer",
    tol: float | None = None,
    generator: torch.Generator | None = None,
) -> None:
    """Raise `AssertionError` unless `f` is equivariant from `rep_in` to `rep_out`.

    Args:
        f: Maps `(batch, rep_in.dim)` to `(batch, rep_out.dim)`.
        rep_in: Input representation.
        rep_out: Output representation (same group).
        n_elements: Group elements sampled.
        scale: Lie-algebra sampling scale (bound it for non-compact groups).
        dtype: Dtype of the test inputs; picks the tolerance.
        check: ``"layer"`` or ``"model"``: the row of `TOL` used.
        tol: Explicit tolerance overriding `TOL`.
        generator: Source of randomness.
    """
    gap = equivariance_gap(
        f,
        rep_in,
        rep_out,
        n_elements=n_elements,
        scale=scale,
        dtype=dtype,
        generator=generator,
    )
    limit = tolerance(check, dtype) if tol is None else tol
    if not gap <= limit:
        raise AssertionError(
            f"not equivariant for {rep_in.group.name} ({rep_in} -> {rep_out}): "
            f"relative error {gap:.3e} > {limit:.1e}"
        )
