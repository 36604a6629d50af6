"""Symmetry cost: what predicting through a group element adds to held-out error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..groups import Group, as_group
from ..reps import Rep
from ._equivariance import _check_args, _check_output
from ._scalings import ScalingSplit, matched_scalings, scaling_split
from ._support import outside_data_share, probe_indices

# Rows of one call of `f`: bounds the memory of n_inputs * n_samples rows.
_ROWS_PER_CALL = 1 << 16


@dataclass(frozen=True)
class SymmetryCost:
    """The result of `symmetry_cost`.

    Attributes:
        cost: $L_G / L - 1$: the relative increase of held-out MSE.
        stderr: Its standard error (`breaking_stderr`'s crossed estimate, in
            units of $L$).
        mse: $L$, the model's held-out MSE (mean over samples and output entries).
        transformed_mse: $L_G$, the MSE of the predictions made through $g$.
        averaged_mse: The MSE of their mean over the sampled $g_k$, the
            orbit-averaged model $\\bar f(x) = \\mathrm{mean}_k\\,
            \\rho_{out}(g_k)^{-1}f(\\rho_{in}(g_k)x)$: never above
            `transformed_mse` (the squared error of a mean is at most the mean
            squared error) and, for an exact symmetry, often below `mse`:
            averaging over the group removes the part of the model's error that
            breaks it.
        breaking: $(L_G - L) / 2\\,\\mathrm{Var}(y)$: the share of the targets'
            variance that predicting through the group adds, halved. For a model
            that fits, and inputs whose distribution the group preserves, it is
            about the share of $\\mathrm{Var}(y)$ that no $G$-equivariant
            function can explain (see `symmetry_cost`): 0 for an exact symmetry, 1 when
            $\\rho_{out}(g)^{-1}y(\\rho_{in}(g)x)$ is unrelated to $y(x)$.
        breaking_stderr: Its standard error for the crossed design (every input
            with every sampled element), $\\sqrt{s_x^2/n + s_g^2/K}$ over
            $2\\,\\mathrm{Var}(y)$, with $s_x^2$ the variance over inputs of the
            per-input mean differences and $s_g^2$ that over elements of the
            per-element ones: conservative (the interaction counts twice).
        breaking_se_inputs: The inputs' part of `breaking_stderr`,
            $s_x/\\sqrt n$ over $2\\,\\mathrm{Var}(y)$.
        breaking_se_elements: The elements' part, $s_g/\\sqrt K$ over
            $2\\,\\mathrm{Var}(y)$ (their squares add up to the square of
            `breaking_stderr`).
        variance: $\\mathrm{Var}(y)$, the targets' variance per output entry.
        n_inputs: Held-out inputs $n$ measured on.
        n_samples: Group elements $K$ measured with.
        outside_data: The share of the moved inputs $\\rho_{in}(g_k)x_i$ that lie
            outside the data (`outside_data_share`: farther from every other
            held-out input than 95 % of the inputs lie from their nearest
            neighbour); about 0.05 where the group preserves the inputs'
            distribution. Near 1, the breaking measures how the model
            extrapolates, not the data. None with fewer than two inputs.
    """

    cost: float
    stderr: float
    mse: float
    transformed_mse: float
    averaged_mse: float
    breaking: float
    breaking_stderr: float
    breaking_se_inputs: float
    breaking_se_elements: float
    variance: float
    n_inputs: int
    n_samples: int
    outside_data: float | None = None

    def breaking_interval(self, z: float = 1.96) -> tuple[float, float]:
        """The interval `breaking` ± z·`breaking_stderr` (95 % by default)."""
        half = z * self.breaking_stderr
        return self.breaking - half, self.breaking + half


def symmetry_cost(
    f: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    group: Group | str,
    x: Tensor,
    y: Tensor,
    n_samples: int = 16,
    *,
    generator: torch.Generator | None = None,
    scale: float = 1.0,
    scalings: str = "data",
    outside: bool = True,
) -> SymmetryCost:
    """How much worse `f` predicts held-out targets through a random element of `group`.

    With $L = \\mathrm{mean}_i\\,\\|f(x_i) - y_i\\|^2$ and
    $L_G = \\mathrm{mean}_{i,k}\\,\\|\\rho_{out}(g_k)^{-1}f(\\rho_{in}(g_k)x_i) -
    y_i\\|^2$ (both per output entry), the cost is $L_G / L - 1$.

    Why it measures the *data's* symmetry and not the model's: if $G$ is exact —
    the inputs' distribution is $G$-invariant and $E[y|x]$ is $G$-equivariant, with
    $G$ acting orthogonally on the outputs — then
    $\\|\\rho_{out}(g)^{-1}f(\\rho_{in}(g)x) - y\\| = \\|f(x') - y'\\|$ for the pair
    $(x', y') = (\\rho_{in}(g)x, \\rho_{out}(g)y)$, which is one more draw from the
    data's own distribution. So $L_G$ and $L$ estimate the same number and the
    cost is 0 in expectation for *any* $f$, equivariant or not. If $G$ is broken,
    predicting through $g$ adds the data's asymmetry
    $\\|y(gx) - \\rho_{out}(g)y(x)\\|$ and the cost grows with it, in units of
    the model's own error. Adding the same equivariant function to `f` and to the
    targets (a baseline such as constant velocity) leaves the cost unchanged.

    No distribution is invariant under scalings, so for them the argument needs
    elements that keep inputs on the data: with ``scalings="data"`` (the default)
    a group of scalings times a compact group (``Scale3``, ``SO3xScale3``;
    `scaling_split`) is sampled as $g = s\\,c$ with $c$ from the compact part and
    $s$ taking $x_i$ to the scale of another held-out input $x_j$ drawn at random
    (`matched_scalings`). When the inputs' scale is independent of the rest of
    their distribution, $\\rho_{in}(g)x_i$ is then one more draw from the data
    and the cost is again 0 in expectation for an exact symmetry; a broken one
    still pays the change of $E[y|x]$ across the data's range of scales. With
    ``scalings="sampled"``, or for other non-compact groups (``GL3``,
    ``Lorentz``) and for data that all lie near one plane under rotations,
    $f(\\rho_{in}(g)x)$ is an extrapolation and the cost also contains the
    model's error there.

    The same two losses give the *breaking*, $(L_G - L) / 2\\,\\mathrm{Var}(y)$,
    a share of the targets' variance that means the same for a model and for the
    ground truth. For the true function $f^*$ (with $y = f^*(x)$, so $L = 0$) it
    is $\\mathrm{E}\\,\\|\\rho_{out}(g)^{-1}f^*(\\rho_{in}(g)x) - f^*(x)\\|^2 /
    2\\,\\mathrm{Var}(y)$. Averaged over Haar-distributed elements of a compact
    group, with inputs whose distribution the group preserves, the numerator is
    twice the variance of $y$ along orbits: the breaking is then the share of
    $\\mathrm{Var}(y)$ that no $G$-equivariant function can explain, the least
    that imposing $G$ costs. softeq draws elements with `Group.sample` (the
    reference's sampler: Lie-algebra coefficients $N(0, 1)$, so rotations lie
    nearer the identity than Haar's), which reads somewhat less than that share;
    truth and model are measured with the same sampler and stay comparable. For
    a model that fits the data, $L_G - L$ estimates the same number.

    Both standard errors treat the differences $d_{ik} = \\ell_{ik} - \\ell_i$
    as a crossed design (inputs $i$ by group elements $k$, both random):
    $\\mathrm{se}^2 = s_x^2/n + s_g^2/K$ with $s_x^2$ the variance of the row
    means $\\mathrm{mean}_k\\,d_{ik}$ and $s_g^2$ that of the column means, so
    that too few group elements widen the interval.

    Args:
        f: Maps `(batch, rep_in.dim)` to `(batch, rep_out.dim)`.
        rep_in: Input representation (layout; re-bound to `group`).
        rep_out: Output representation (layout; re-bound to `group`).
        group: The group (or its registry name), acting on the same $R^d$ as the
            reps.
        x: Held-out inputs `(n, rep_in.dim)`.
        y: Their targets `(n, rep_out.dim)`.
        n_samples: Group elements $g_k$, shared by all inputs.
        generator: Source of randomness for the group elements.
        scale: Lie-algebra sampling scale (bound it for non-compact groups);
            compact parts of data-matched scalings always use 1.
        scalings: ``"data"`` (scalings matched to the inputs, where the group
            allows it) or ``"sampled"`` (every element from `group.sample`).
        outside: Measure `SymmetryCost.outside_data` (False: leave it None, for
            callers that do not read it, such as a tuner measuring every few
            epochs or the ground truth, which is defined off the data too).

    Returns:
        A `SymmetryCost`. When the model is exact on `x` ($L$ below $10^{-12}$ of
        the targets' variance) $L$ is taken as that floor.

    Raises:
        ValueError: For shapes that do not fit the representations, or fewer than
            two inputs.

    Example:
        A map that is only O(2)_z-equivariant, on targets it makes itself: rotating
        about z costs nothing, rotating about x does.

        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("V", get("O3"))
        >>> D = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
        >>> gen = torch.Generator().manual_seed(0)
        >>> x = torch.randn(400, 3, dtype=torch.float64, generator=gen)
        >>> y = x @ D + 0.1 * torch.randn(400, 3, dtype=torch.float64, generator=gen)
        >>> f = lambda v: v @ D
        >>> abs(symmetry_cost(f, rep, rep, get("O2z"), x, y, generator=gen).cost) < 1e-9
        True
        >>> symmetry_cost(f, rep, rep, get("O2x"), x, y, generator=gen).cost > 1
        True
    """
    group = as_group(group)
    _check_args(rep_in, rep_out, group, x)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"symmetry_cost needs n_samples >= 1, got {n_samples!r}")
    n = x.shape[0]
    if not isinstance(y, Tensor) or n < 2 or y.shape != (n, rep_out.dim):
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(
            f"symmetry_cost expects targets y of shape ({n}, {rep_out.dim}) for "
            f"rep_out {rep_out} and at least 2 inputs, got y {got}"
        )
    if scalings not in ("data", "sampled"):
        raise ValueError(f"scalings must be 'data' or 'sampled', got {scalings!r}")
    split = scaling_split(group, rep_in, rep_out) if scalings == "data" else None
    rep_in, rep_out = rep_in.with_group(group), rep_out.with_group(group)
    if split is None:
        gs = group.sample(n_samples, scale=scale, generator=generator)
    else:
        gs = split.compact.sample(n_samples, generator=generator)
    like = {"dtype": x.dtype, "device": x.device}
    # one element per row of the first axis, broadcast over the inputs; applied
    # block by block (`Rep.act`), never as (dim, dim) matrices
    gs_in, gs_back = gs[:, None], torch.linalg.inv(gs)[:, None]
    y = y.to(**like)
    with torch.no_grad():
        loss = _squared_errors(_check_output(f(x), rep_out, n), y)  # (n,)
        transformed = torch.zeros_like(loss)
        per_element = torch.zeros(n_samples, dtype=torch.float64, device=x.device)
        averaged = torch.zeros_like(y)
        powers = (
            None if split is None else _scaling_powers(split, x, n_samples, generator)
        )
        per_call = max(1, _ROWS_PER_CALL // n)
        reference, probe = probe_indices(n, n_samples)
        moved: list[Tensor] = []
        for start in range(0, n_samples, per_call):
            stop = min(start + per_call, n_samples)
            x_s = x if powers is None else x * powers[0][start:stop]
            x_g = rep_in.act(gs_in[start:stop], x_s)
            if outside:
                moved.append(x_g[:, probe.to(x.device)].reshape(-1, x.shape[1]))
            f_gx = _check_output(
                f(x_g.reshape(-1, x.shape[1])), rep_out, x_g.shape[0] * n
            ).reshape(stop - start, n, -1)
            if powers is not None:
                f_gx = f_gx * powers[1][start:stop]
            back = rep_out.act(gs_back[start:stop], f_gx)
            errors = _squared_errors(back, y)  # (stop - start, n)
            transformed += errors.sum(0)
            per_element[start:stop] = errors.mean(1)
            averaged += back.sum(0)
        transformed /= n_samples
        averaged_mse = float(_squared_errors(averaged / n_samples, y).mean())
        share = _outside(x, torch.cat(moved), reference, probe, n) if outside else None
    cost = _summarise(loss, transformed, per_element, y, averaged_mse)
    return replace(cost, outside_data=share)


def _outside(x: Tensor, moved: Tensor, reference: Tensor, probe: Tensor,
             n: int) -> float | None:  # fmt: skip
    """`outside_data_share` of the moved probe inputs (every element's, in order)
    against the reference inputs; None with fewer than two of them."""
    if reference.numel() < 2:
        return None
    position = torch.full((n,), -1, dtype=torch.long)
    position[reference] = torch.arange(reference.numel())
    source = position[probe].repeat(moved.shape[0] // probe.numel())
    return outside_data_share(x[reference.to(x.device)], moved, source.to(x.device))


def _scaling_powers(
    split: ScalingSplit, x: Tensor, n_samples: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """$\\rho_{in}(s)$ and $\\rho_{out}(s)^{-1}$ of data-matched scalings as
    factors to multiply features by: `(n_samples, n, rep_in.dim)` and
    `(n_samples, n, rep_out.dim)` (a component of degree $p - q$ scales by
    $s^{p-q}$; scalings commute with the compact part)."""
    s = matched_scalings(split, x, n_samples, generator)[..., None]  # (S, n, 1)
    like = {"dtype": x.dtype, "device": x.device}
    d_in, d_out = split.degrees_in.to(**like), split.degrees_out.to(**like)
    s = s.to(**like)
    return s**d_in, s ** (-d_out)


def _squared_errors(prediction: Tensor, y: Tensor) -> Tensor:
    """Mean squared error per sample over the last dim, in float64."""
    return (prediction.double() - y.double()).square().mean(-1)


def _summarise(
    loss: Tensor,
    transformed: Tensor,
    per_element: Tensor,
    y: Tensor,
    averaged_mse: float,
) -> SymmetryCost:
    """The cost and the breaking with their crossed-design standard errors, from
    the per-input losses `loss` and `transformed` `(n,)` and the per-element mean
    transformed losses `per_element` `(K,)`."""
    mse, mse_g = float(loss.mean()), float(transformed.mean())
    variance = float((y.double() - y.double().mean(0)).square().mean())
    floor = max(mse, 1e-12 * variance, 1e-300)
    n, k = loss.numel(), per_element.numel()
    by_input = float((transformed - loss).var()) / n
    by_element = float(per_element.var()) / k if k > 1 else 0.0
    se = (by_input + by_element) ** 0.5
    spread = 2 * max(variance, 1e-300)
    return SymmetryCost(
        cost=(mse_g - mse) / floor,
        stderr=se / floor,
        mse=mse,
        transformed_mse=mse_g,
        averaged_mse=averaged_mse,
        breaking=(mse_g - mse) / spread,
        breaking_stderr=se / spread,
        breaking_se_inputs=by_input**0.5 / spread,
        breaking_se_elements=by_element**0.5 / spread,
        variance=variance,
        n_inputs=n,
        n_samples=k,
    )
