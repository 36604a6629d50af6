"""Whether a group's elements keep the inputs on the data.

The breaking (`symmetry_cost`) compares a model's predictions at $x$ and at
$\\rho_{in}(g)x$. It reads the *data's* symmetry only when the moved input
$\\rho_{in}(g)x$ is one more draw from the inputs' distribution; where the group
moves inputs away from every input the data hold (planets orbiting in one plane
and one sense, people upright), $f(\\rho_{in}(g)x)$ is an extrapolation and the
breaking measures the model there, not the data. This module measures how far the
moved inputs leave the data.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: The share of the inputs' own nearest-neighbour distances a moved input may
#: exceed and still count as on the data: a moved input is *outside the data* when
#: it lies farther from every held-out input than 95 % of the held-out inputs lie
#: from their nearest neighbour. Where the group preserves the inputs'
#: distribution, a moved input is one more draw from it, so 5 % of moved inputs
#: are outside by chance.
SUPPORT_QUANTILE = 0.95

#: Held-out inputs the moved ones are compared with, at most (evenly spaced).
MAX_REFERENCE = 1024

#: Moved inputs measured, at most, over all sampled elements.
MAX_MOVED = 2048


def outside_data_share(
    x: Tensor, moved: Tensor, source: Tensor, *, quantile: float = SUPPORT_QUANTILE
) -> float:
    """The share of moved inputs that lie outside the data.

    With held-out inputs $x_1, \\dots, x_n$, let $d_j = \\min_{l \\ne j}\\|x_j -
    x_l\\|$ (each input's distance to its nearest neighbour) and $\\tau$ the
    `quantile` of the $d_j$. A moved input $m = \\rho_{in}(g)x_s$ is outside the
    data when $\\min_{l \\ne s}\\|m - x_l\\| > \\tau$: its own source input is left
    out, as each $x_j$ is left out of its own $d_j$. Where the group preserves
    the inputs' distribution, $(m, \\{x_l\\}_{l \\ne s})$ is distributed as
    $(x_s, \\{x_l\\}_{l \\ne s})$, so the share is $1 -$ `quantile` (5 %) in
    expectation, whatever the model and the dimension; where the group moves the
    inputs off the data it approaches 1.

    Args:
        x: Held-out inputs `(n, d)`, n >= 2 (the reference).
        moved: Moved inputs `(m, d)`.
        source: Index into `x` of the input each moved one came from, `(m,)`;
            -1 for one that came from no input of `x`.
        quantile: The quantile of the nearest-neighbour distances that bounds
            the data, in (0, 1).

    Returns:
        The share of `moved` outside the data, in [0, 1].

    Raises:
        ValueError: For fewer than two reference inputs, shapes that disagree,
            or a quantile outside (0, 1).

    Example:
        Points on a circle in the plane z = 0: turning them about z keeps them
        on the circle, tipping them about x moves them off it.

        >>> from math import pi
        >>> t = torch.linspace(0, 2 * pi, 401, dtype=torch.float64)[:-1]
        >>> x = torch.stack([t.cos(), t.sin(), torch.zeros_like(t)], 1)
        >>> def turn(c, s, axis):  # rotation by angle (cos c, sin s) about axis
        ...     R = torch.eye(3, dtype=torch.float64)
        ...     i, j = [k for k in range(3) if k != axis]
        ...     R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
        ...     return R
        >>> source = torch.arange(400)
        >>> about_z = x @ turn(0.6, 0.8, 2).T
        >>> about_x = x @ turn(0.6, 0.8, 0).T
        >>> outside_data_share(x, about_z, source) < 0.1
        True
        >>> outside_data_share(x, about_x, source) > 0.9
        True
    """
    if not 0 < quantile < 1:
        raise ValueError(f"outside_data_share needs 0 < quantile < 1, got {quantile}")
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(
            f"outside_data_share needs at least two reference inputs (n, d), got "
            f"{tuple(x.shape)}"
        )
    if moved.dim() != 2 or moved.shape[1] != x.shape[1]:
        raise ValueError(
            f"outside_data_share: moved inputs {tuple(moved.shape)} do not match "
            f"the reference's {tuple(x.shape)}"
        )
    if source.shape != (moved.shape[0],):
        raise ValueError(
            f"outside_data_share: source {tuple(source.shape)} needs one index per "
            f"moved input ({moved.shape[0]})"
        )
    if moved.shape[0] == 0:
        return 0.0
    x, moved = x.double(), moved.double()
    own = torch.cdist(x, x)
    own.fill_diagonal_(float("inf"))
    tau = torch.quantile(own.min(1).values, quantile)
    distance = torch.cdist(moved, x)
    mine = source >= 0
    rows = torch.arange(moved.shape[0], device=moved.device)
    distance[rows[mine], source[mine]] = float("inf")
    return float((distance.min(1).values > tau).double().mean())


def probe_indices(n: int, n_samples: int) -> tuple[Tensor, Tensor]:
    """Which inputs to measure `outside_data_share` on, with no randomness (so the
    measurement draws nothing from the caller's generator): evenly spaced
    reference inputs (`MAX_REFERENCE` at most) and, for each of `n_samples`
    elements, evenly spaced inputs to move (`MAX_MOVED` over all elements).

    Returns:
        ``(reference, moved)``: indices into the `n` inputs.

    Example:
        >>> reference, moved = probe_indices(10, 4)
        >>> reference.tolist() == list(range(10)), moved.tolist() == list(range(10))
        (True, True)
        >>> [len(i) for i in probe_indices(5000, 16)]
        [1024, 128]
    """
    reference = _spaced(n, MAX_REFERENCE)
    return reference, _spaced(n, max(1, MAX_MOVED // max(1, n_samples)))


def _spaced(n: int, most: int) -> Tensor:
    if n <= most:
        return torch.arange(n)
    return torch.linspace(0, n - 1, most).round().long().unique()
