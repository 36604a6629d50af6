"""PER's "cosine similarity" task: rotations and scaling, each exact or broken."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from ._task import Task, check_seed, seeded, split_pool, targets, with_measured_truth

N_POINTS = 3
N_SAMPLES = 3000
DATA_SEED = 3012  # the reference's N + k + dim = 3000 + 3 + 9
SIZES = (1000, 1000, 1000)
NOISE = 1.0  # the reference scripts' --noise
REP_IN, REP_OUT = "3*V", "V0"
GROUPS = ("SO3xScale3", "SO3", "Scale3")

# setting -> (coefficient of mean norm, coefficient of l1 ratio). The truth of each
# candidate is measured from the ground truth (`with_measured_truth`), not chosen.
SETTINGS: dict[str, tuple[float, float]] = {
    "so3-scale": (0.0, 0.0),
    "so3": (-NOISE, 0.0),
    "scale": (0.0, -NOISE),
    "none": (-NOISE, NOISE),
}


def cosine_similarity_target(
    x: Tensor, norm_coef: float = 0.0, ratio_coef: float = 0.0
) -> Tensor:
    """$y = c + a\\,\\bar\\rho + b\\,\\varphi$ for three points $x_0, x_1, x_2$.

    $c = \\frac13\\sum_{i} \\cos\\angle(x_i, x_{i+1 \\bmod 3})$ is invariant under
    rotations and scaling; $\\bar\\rho = \\frac13\\sum_i \\|x_i\\|_2$ is rotation
    invariant and scales linearly; $\\varphi = \\|x_0\\|_1 / (\\|x_1\\|_1 +
    \\|x_2\\|_1)$ is scale invariant but not rotation invariant.

    Args:
        x: `(batch, 9)`, rep $3V$ (points point-major).
        norm_coef: $a$.
        ratio_coef: $b$.

    Returns:
        Tensor of shape `(batch, 1)` in the dtype of `x`.
    """
    p = x.reshape(-1, N_POINTS, 3)
    norms = p.norm(dim=-1)
    nxt = p.roll(-1, dims=1)
    cos = (p * nxt).sum(-1) / (norms * norms.roll(-1, dims=1))
    c = cos.mean(-1)
    l1 = p.abs().sum(-1)
    phi = l1[:, 0] / (l1[:, 1] + l1[:, 2])
    return (c + norm_coef * norms.mean(-1) + ratio_coef * phi)[:, None]


def cossim(setting: str, *, seed: int = 0) -> Task:
    """PER's cosine-similarity task (PER-REFERENCE §2.2), noise coefficient 1.

    Three points $x_i \\in R^3$ from 3000 standard normal draws (a generator
    seeded 3012 as in the reference: every seed sees the same samples); `seed`
    only draws the 1000/1000/1000 train/val/test split. With $c$, $\\bar\\rho$,
    $\\varphi$ as in `cosine_similarity_target`:

    | setting | $y$ | SO3xScale3 | SO3 | Scale3 |
    |---|---|---|---|---|
    | ``so3-scale`` | $c$ | exact | exact | exact |
    | ``so3`` | $c - \\bar\\rho$ | broken | exact | broken |
    | ``scale`` | $c - \\varphi$ | broken | broken | exact |
    | ``none`` | $c - \\bar\\rho + \\varphi$ | broken | broken | broken |

    Args:
        setting: One of ``so3-scale``, ``so3``, ``scale``, ``none``.
        seed: Seed of the split.

    Returns:
        A `Task` with rep ``3*V`` -> ``V0``.

    Raises:
        ValueError: For an unknown setting or a negative seed.
    """
    if setting not in SETTINGS:
        raise ValueError(
            f"unknown cossim setting {setting!r}; expected one of {list(SETTINGS)}"
        )
    seed = check_seed(seed, "cossim")
    norm_coef, ratio_coef = SETTINGS[setting]
    z = torch.randn(N_SAMPLES, 3 * N_POINTS, generator=seeded(DATA_SEED))
    x = z.to(torch.float64)
    true_fn = partial(
        cosine_similarity_target, norm_coef=norm_coef, ratio_coef=ratio_coef
    )
    y = targets(true_fn, x)
    task = Task(
        name=f"cossim:{setting}",
        rep_in=REP_IN,
        rep_out=REP_OUT,
        groups=GROUPS,
        truth=dict.fromkeys(GROUPS, "unknown"),
        true_fn=true_fn,
        **split_pool(x, y, SIZES, seeded(seed)),
    )
    return with_measured_truth(task)
