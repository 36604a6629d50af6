"""PER's "modified inertia" task: O(3) and its three embedded O(2)'s, mixed."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor
from torch.nn.functional import softplus

from ._task import Task, check_seed, seeded, split_pool, targets, with_measured_truth

N_POINTS = 5
N_SAMPLES = 3000
# The reference seeds its generator with N + k + dim (+ shift) = 3000 + 5 + 20.
DATA_SEED = 3025
SIZES = (1000, 1000, 1000)
REP_IN, REP_OUT = "5*V0+5*V", "V2"
GROUPS = ("O3", "O2x", "O2y", "O2z")

# setting -> diagonal of D (PER-REFERENCE §2.1). The truth of each candidate is
# measured from the ground truth (`with_measured_truth`), not chosen.
SETTINGS: dict[str, tuple[float, float, float]] = {
    "o3": (1.0, 1.0, 1.0),
    "o2x": (0.0, 1.0, 1.0),
    "o2y": (1.0, 0.0, 1.0),
    "o2z": (1.0, 1.0, 0.0),
    "mixed": (1.3, 0.7, 1.0),
    "broken": (2.0, 0.0, 1.0),
    "rpp": (1.0, 1.0, 1.3),
}


def inertia_tensor(x: Tensor) -> Tensor:
    """Inertia tensor of point masses, $I = \\sum_i m_i(\\|r_i\\|^2 I_3 - r_i r_i^T)$.

    Args:
        x: Masses then positions, particle-major: `(batch, k + 3k)` laid out as
            $(m_1..m_k, r_1, .., r_k)$ (rep $k V^0 \\oplus k V$).

    Returns:
        Tensor of shape `(batch, 3, 3)` in the dtype of `x`.
    """
    k = x.shape[-1] // 4
    m, r = x[:, :k], x[:, k:].reshape(-1, k, 3)
    eye = torch.eye(3, dtype=x.dtype, device=x.device)
    r2 = (r * r).sum(-1)[..., None, None]
    outer = r[..., :, None] * r[..., None, :]
    return (m[..., None, None] * (r2 * eye - outer)).sum(1)


def modified_inertia(x: Tensor, diag: tuple[float, float, float]) -> Tensor:
    """PER's modified inertia $Y = I(x)\\,D$, $D = \\mathrm{diag}(d)$, flattened.

    $Y(\\rho(g)x) = g I g^T D$ equals $g Y g^T = g I D g^T$ for every $I$ exactly
    when $g$ commutes with $D$: O(3) for $D = I_3$, O(2) about an axis when $D$
    differs only on that axis.

    Args:
        x: `(batch, 20)`, rep $5V^0 \\oplus 5V$.
        diag: The diagonal of $D$.

    Returns:
        Tensor of shape `(batch, 9)`, $Y$ flattened row-major (rep $V^{\\otimes 2}$).
    """
    d = torch.tensor(diag, dtype=x.dtype, device=x.device)
    return (inertia_tensor(x) * d).reshape(-1, 9)


def sample_masses_positions(z: Tensor) -> Tensor:
    """Map standard normals $z$ to inputs: masses softplus$(z_{:k})$, positions
    $z_{k:}$ unchanged.

    Shape:
        `z`: `(n, 4k)`; returns `(n, 4k)` in the dtype of `z`.
    """
    k = z.shape[-1] // 4
    return torch.cat([softplus(z[:, :k]), z[:, k:]], dim=-1)


def inertia(setting: str, *, seed: int = 0) -> Task:
    """PER's modified-inertia task (PER-REFERENCE §2.1).

    Five masses $m_i = \\mathrm{softplus}(z_i)$ and positions $r_i \\in R^3$ from
    3000 standard normal draws $z \\in R^{20}$ (a generator seeded 3025, as in the
    reference: every seed sees the same 3000 samples), target
    $Y = I(x)\\,D$ with $I = \\sum_i m_i(\\|r_i\\|^2 I_3 - r_i r_i^T)$, flattened
    row-major. `seed` only draws the 1000/1000/1000 train/val/test split.

    | setting | $D$ | O3 | O2x | O2y | O2z |
    |---|---|---|---|---|---|
    | ``o3`` | diag(1,1,1) | exact | exact | exact | exact |
    | ``o2x`` / ``o2y`` / ``o2z`` | 0 on that axis | broken | exact on its axis | | |
    | ``mixed`` | diag(1.3,0.7,1) | approx. | approx. | approx. | approx. |
    | ``broken`` | diag(2,0,1) | broken | broken | broken | broken |
    | ``rpp`` | diag(1,1,1.3) | approx. | approx. | approx. | exact |

    Args:
        setting: One of ``o3``, ``o2x``, ``o2y``, ``o2z``, ``mixed``, ``broken``,
            ``rpp``.
        seed: Seed of the split.

    Returns:
        A `Task` with rep ``5*V0+5*V`` -> ``V2`` and candidates O3, O2x, O2y, O2z.

    Raises:
        ValueError: For an unknown setting or a negative seed.
    """
    if setting not in SETTINGS:
        raise ValueError(
            f"unknown inertia setting {setting!r}; expected one of {list(SETTINGS)}"
        )
    seed = check_seed(seed, "inertia")
    diag = SETTINGS[setting]
    z = torch.randn(N_SAMPLES, 4 * N_POINTS, generator=seeded(DATA_SEED))
    x = sample_masses_positions(z.to(torch.float64))
    true_fn = partial(modified_inertia, diag=diag)
    y = targets(true_fn, x)
    task = Task(
        name=f"inertia:{setting}",
        rep_in=REP_IN,
        rep_out=REP_OUT,
        groups=GROUPS,
        truth=dict.fromkeys(GROUPS, "unknown"),
        true_fn=true_fn,
        **split_pool(x, y, SIZES, seeded(seed)),
    )
    return with_measured_truth(task)
