"""Function-space relative equivariance error of any model, per group."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..groups import Group, as_group
from ..reps import Rep

_EPS = 1e-12


def gaussian_inputs(
    rep: Rep,
    n: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Standard normal features $x \\sim N(0, I)$ for `rep` (the reference's inputs).

    Samples are drawn in float64 on the CPU and then cast, so one seed gives the
    same points in every dtype and on every device.

    Args:
        rep: Representation whose `dim` is the feature size.
        n: Number of samples.
        generator: Source of randomness; the global one if None.
        dtype: Dtype of the result.
        device: Device of the result.

    Returns:
        Tensor of shape `(n, rep.dim)`.
    """
    if not isinstance(rep, Rep):
        raise ValueError(
            f"gaussian_inputs needs a softeq Rep, got {type(rep).__name__}"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"gaussian_inputs needs an int n >= 0, got {n!r}")
    x = torch.randn(n, rep.dim, dtype=torch.float64, generator=generator)
    return x.to(dtype=dtype, device=device)


def _check_args(rep_in: Rep, rep_out: Rep, group: Group, x: Tensor) -> None:
    who = "equivariance_error"
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Rep):
            raise ValueError(f"{who}: {name} must be a softeq Rep, got {type(rep)}")
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if rep.group.d != group.d:
            raise ValueError(
                f"{who}: {name} {rep} acts on R^{rep.group.d} ({rep.group.name}), "
                f"but group {group.name} acts on R^{group.d}"
            )
    if x.ndim != 2 or x.shape[-1] != rep_in.dim or x.shape[0] == 0:
        raise ValueError(
            f"{who} expects x of shape (batch >= 1, {rep_in.dim}) for rep_in {rep_in}, "
            f"got {tuple(x.shape)}"
        )


def _check_output(y: Tensor, rep_out: Rep, rows: int) -> Tensor:
    if not isinstance(y, Tensor) or tuple(y.shape) != (rows, rep_out.dim):
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(
            f"equivariance_error: f must return (batch, {rep_out.dim}) for rep_out "
            f"{rep_out}; for batch {rows} it returned {got}"
        )
    return y


def equivariance_error(
    f: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    group: Group | str,
    x: Tensor,
    n_samples: int = 16,
    *,
    generator: torch.Generator | None = None,
    scale: float = 1.0,
) -> float:
    """Mean relative equivariance error of `f` for `group` on the inputs `x`.

    $$err = \\text{mean}_{x, g}\\,
    \\frac{\\|f(\\rho_{in}(g)x) - \\rho_{out}(g)f(x)\\|}
    {\\|f(\\rho_{in}(g)x)\\| + \\|\\rho_{out}(g)f(x)\\|}$$

    with per-sample vector norms (denominator clamped at 1e-12) and `n_samples`
    elements $g$ shared by all rows. Scale-free ($f \\mapsto cf$ leaves it
    unchanged), 0 for an equivariant $f$, never above 1. Evaluated under
    `torch.no_grad()` in one batched call of `f` on the transformed inputs; put
    modules in eval mode first (dropout, augmentation wrappers).

    Args:
        f: Maps `(batch, rep_in.dim)` to `(batch, rep_out.dim)`.
        rep_in: Input representation (layout; re-bound to `group`).
        rep_out: Output representation (layout; re-bound to `group`).
        group: The group to measure (or its registry name), acting on the same
            $R^d$ as the reps.
        x: Inputs, shape `(batch, rep_in.dim)`; see `gaussian_inputs`.
        n_samples: Number of group elements.
        generator: Source of randomness for the group elements.
        scale: Lie-algebra sampling scale (bound it for non-compact groups).

    Returns:
        The error as a Python float in $[0, 1]$.

    Raises:
        ValueError: For a wrong last dim of `x`, or a group of another $d$.

    Example:
        >>> import torch
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> rep = parse("2*V", G)
        >>> x = gaussian_inputs(rep, 32, dtype=torch.float64)
        >>> equivariance_error(lambda v: 3 * v, rep, rep, G, x) < 1e-12
        True
        >>> equivariance_error(lambda v: 3 * v, rep, rep, "O2z", x) < 1e-12
        True
    """
    group = as_group(group)
    _check_args(rep_in, rep_out, group, x)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"equivariance_error needs n_samples >= 1, got {n_samples!r}")
    rep_in, rep_out = rep_in.with_group(group), rep_out.with_group(group)
    gs = group.sample(n_samples, scale=scale, generator=generator)
    batch = x.shape[0]
    with torch.no_grad():
        fx = _check_output(f(x), rep_out, batch)
        # block by block (`Rep.act`), one element per row of the first axis
        x_g = rep_in.act(gs[:, None], x).reshape(n_samples * batch, -1)
        f_gx = _check_output(f(x_g), rep_out, n_samples * batch)
        f_gx = f_gx.reshape(n_samples, batch, -1)
        g_fx = rep_out.act(gs[:, None], fx)
        num = (f_gx - g_fx).norm(dim=-1)
        den = (f_gx.norm(dim=-1) + g_fx.norm(dim=-1)).clamp_min(_EPS)
        return float((num / den).mean())
