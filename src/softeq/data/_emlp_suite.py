"""The synthetic suite of Finzi, Welling & Wilson (2021): Inertia, O5Synthetic and
ParticleInteraction, each exactly symmetric under one group."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch
from torch import Tensor

from ..groups import get
from ..reps import parse
from ._inertia import inertia_tensor, sample_masses_positions
from ._task import (
    Task,
    check_seed,
    emlp_standardization,
    seeded,
    targets,
    with_measured_truth,
)

TRAIN_SIZES = (1000, 3000)
# EMLP's splits: validation 1000, test 5000 (`data_efficiency.py`).
N_VAL, N_TEST = 1000, 5000

# Minkowski metric preserved by `softeq.groups.Lorentz`.
_ETA = (1.0, -1.0, -1.0, -1.0)


def rigid_inertia(x: Tensor) -> Tensor:
    """Inertia tensor of five point masses, flattened row-major.

    $I = \\sum_{i=1}^5 m_i(\\|r_i\\|^2 I_3 - r_i r_i^T)$, O(3)-equivariant:
    $I(\\rho_{in}(g)x) = g\\,I(x)\\,g^T$.

    Shape:
        `x`: `(batch, 20)`, rep $5V^0 \\oplus 5V$; returns `(batch, 9)`, rep
        $V^{\\otimes 2}$.
    """
    return inertia_tensor(x).reshape(-1, 9)


def o5_function(x: Tensor) -> Tensor:
    """$f(x_1, x_2) = \\sin\\|x_1\\| - \\tfrac12\\|x_2\\|^3 +
    \\frac{x_1^T x_2}{\\|x_1\\|\\,\\|x_2\\|}$, O(5)-invariant.

    Shape:
        `x`: `(batch, 10)` = $(x_1, x_2)$, rep $2V$ of O(5); returns `(batch, 1)`.
    """
    x1, x2 = x[:, :5], x[:, 5:]
    n1, n2 = x1.norm(dim=-1), x2.norm(dim=-1)
    return (torch.sin(n1) - 0.5 * n2**3 + (x1 * x2).sum(-1) / (n1 * n2))[:, None]


def _minkowski(u: Tensor, v: Tensor, eta: Tensor) -> Tensor:
    """$u^T \\eta v$ over the last axis: `(..., 4)` x `(..., 4)` -> `(...)`."""
    return (u * eta * v).sum(-1)


def electron_muon_amplitude(x: Tensor) -> Tensor:
    """Squared matrix element of electron-muon scattering, Lorentz-invariant.

    With four-momenta $p_1..p_4$ (contravariant, $p \\mapsto \\Lambda p$),
    $\\eta = \\mathrm{diag}(1,-1,-1,-1)$ and $\\langle u, v\\rangle = u^T\\eta v$:

    $$L_e^{\\mu\\nu} = p_1^\\mu p_3^\\nu - (\\langle p_1, p_3\\rangle
    - \\langle p_1, p_1\\rangle)\\,\\eta^{\\mu\\nu},\\qquad
    L^\\mu_{\\mu\\nu} = (\\eta p_2)_\\mu(\\eta p_4)_\\nu - (\\langle p_2, p_4\\rangle
    - \\langle p_2, p_2\\rangle)\\,\\eta_{\\mu\\nu},$$

    a $T(2,0)$ and a $T(0,2)$ tensor, contracted to the scalar
    $M = 4\\,L_e^{\\mu\\nu} L^\\mu_{\\mu\\nu}$.

    Shape:
        `x`: `(batch, 16)` = $(p_1, p_2, p_3, p_4)$, rep $4V$; returns
        `(batch, 1)`.
    """
    eta = torch.tensor(_ETA, dtype=x.dtype, device=x.device)
    p1, p2, p3, p4 = x.reshape(-1, 4, 4).unbind(1)
    metric = torch.diag(eta)
    c_e = _minkowski(p1, p3, eta) - _minkowski(p1, p1, eta)
    c_mu = _minkowski(p2, p4, eta) - _minkowski(p2, p2, eta)
    l_e = p1[:, :, None] * p3[:, None, :] - c_e[:, None, None] * metric
    l_mu = (eta * p2)[:, :, None] * (eta * p4)[:, None, :]
    l_mu = l_mu - c_mu[:, None, None] * metric
    return 4.0 * (l_e * l_mu).sum((-1, -2))[:, None]


def _suite_generator(name: str, seed: int) -> torch.Generator:
    # A distinct stream per (task, seed), so tasks sharing a seed are independent.
    digest = hashlib.blake2b(f"{name}:{seed}".encode(), digest_size=7).digest()
    return seeded(int.from_bytes(digest, "big"))


def _check_n_train(n_train: int, who: str) -> int:
    if isinstance(n_train, bool) or n_train not in TRAIN_SIZES:
        raise ValueError(
            f"{who}: n_train must be one of {TRAIN_SIZES} (the paper's sizes), "
            f"got {n_train!r}"
        )
    return n_train


def _suite_task(
    name: str,
    n_train: int,
    seed: int,
    *,
    spec: tuple[str, str, str, Callable[[Tensor], Tensor]],
    sample: Callable[[Tensor], Tensor],
    dim: int,
    standardize: bool = True,
) -> Task:
    """Draw 9000 inputs: validation, test, then up to 3000 training rows; with
    `standardize`, EMLP's statistics of the training rows (`emlp_standardization`).
    """
    n_train = _check_n_train(n_train, name)
    seed = check_seed(seed, name)
    rep_in, rep_out, group, true_fn = spec
    n_pool = N_VAL + N_TEST + max(TRAIN_SIZES)
    z = torch.randn(
        n_pool, dim, dtype=torch.float64, generator=_suite_generator(name, seed)
    )
    x = sample(z).to(torch.float32)
    y = targets(true_fn, x).to(torch.float32)
    cuts = {"val": (0, N_VAL), "test": (N_VAL, N_VAL + N_TEST)}
    cuts["train"] = (N_VAL + N_TEST, N_VAL + N_TEST + n_train)
    arrays = {}
    for split, (lo, hi) in cuts.items():
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[lo:hi].clone(), y[lo:hi].clone()
    stats = None
    if standardize:
        reps = parse(rep_in, get(group)), parse(rep_out, get(group))
        stats = emlp_standardization(*reps, arrays["x_train"], arrays["y_train"])
    task = Task(
        name=f"{name}:{n_train}",
        rep_in=rep_in,
        rep_out=rep_out,
        groups=(group,),
        truth={group: "unknown"},
        true_fn=true_fn,
        standardization=stats,
        **arrays,
    )
    return with_measured_truth(task)


def emlp_inertia(n_train: int = 1000, *, seed: int = 0) -> Task:
    """EMLP's Inertia task: the inertia tensor of five point masses, O(3).

    Masses $m_i = \\mathrm{softplus}(z_i)$ and positions $r_i = z_{5+3i:8+3i}$ from
    standard normals $z \\in R^{20}$; target
    $I = \\sum_i m_i(\\|r_i\\|^2 I_3 - r_i r_i^T)$ flattened row-major
    (`rigid_inertia`). Rep ``5*V0+5*V`` -> ``V2``. Not standardised (EMLP's
    statistics for this task are the identity).

    Every task of the suite draws fresh data per `seed` (as the original does
    per run): validation and test are the first 1000 + 5000 rows of one stream
    (EMLP's sizes) and training the next `n_train`, so the 1000-sample training
    set is a subset of the 3000-sample one and both share validation and test.

    Args:
        n_train: 1000 or 3000.
        seed: Seed of the data stream.

    Returns:
        A `Task` named ``emlp-inertia:<n_train>`` with candidate O3 (exact).

    Raises:
        ValueError: For another `n_train` or a negative seed.
    """
    spec = ("5*V0+5*V", "V2", "O3", rigid_inertia)
    return _suite_task(
        "emlp-inertia", n_train, seed, spec=spec, sample=sample_masses_positions,
        dim=20, standardize=False,
    )  # fmt: skip


def o5_synthetic(n_train: int = 1000, *, seed: int = 0) -> Task:
    """EMLP's O5Synthetic task: an O(5)-invariant function of two vectors.

    $x_1, x_2 \\sim N(0, I_5)$, target
    $\\sin\\|x_1\\| - \\tfrac12\\|x_2\\|^3 + x_1^Tx_2 / (\\|x_1\\|\\|x_2\\|)$
    (`o5_function`). Rep ``2*V`` -> ``V0``. Data as in `emlp_inertia`; models
    work in EMLP's standardised units (`emlp_standardization`: each vector by its
    RMS, the target by its standard deviation).

    Args:
        n_train: 1000 or 3000.
        seed: Seed of the data stream.

    Returns:
        A `Task` named ``o5-synthetic:<n_train>`` with candidate O5 (exact).

    Raises:
        ValueError: For another `n_train` or a negative seed.
    """
    spec = ("2*V", "V0", "O5", o5_function)
    return _suite_task(
        "o5-synthetic", n_train, seed, spec=spec, sample=lambda z: z, dim=10
    )


def particle_interaction(n_train: int = 1000, *, seed: int = 0) -> Task:
    """EMLP's ParticleInteraction task: electron-muon scattering, O(1,3).

    Four four-momenta $p_i \\sim N(0, I_4/16)$ (standard normals divided by 4),
    target the Lorentz scalar $M$ of `electron_muon_amplitude` with the metric
    $\\mathrm{diag}(1,-1,-1,-1)$ that `softeq.groups.Lorentz` preserves. Rep
    ``4*V`` -> ``V0``. Data as in `emlp_inertia`; standardised as
    `o5_synthetic` (each four-momentum by its RMS, the target by its standard
    deviation), as EMLP does.

    Args:
        n_train: 1000 or 3000.
        seed: Seed of the data stream.

    Returns:
        A `Task` named ``particle-interaction:<n_train>`` with candidate Lorentz
        (exact).

    Raises:
        ValueError: For another `n_train` or a negative seed.
    """
    spec = ("4*V", "V0", "Lorentz", electron_muon_amplitude)
    return _suite_task(
        "particle-interaction", n_train, seed, spec=spec, sample=_quarter, dim=16
    )


def _quarter(z: Tensor) -> Tensor:
    return z / 4
