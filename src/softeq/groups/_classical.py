"""Classical matrix groups: O(n), SO(n), SL(n), GL(n), O(1,3), Scaling, Trivial."""

from __future__ import annotations

import torch
from torch import Tensor

from ._group import Group

_DTYPE = torch.float64


def _check_dim(n: int, name: str, minimum: int = 1) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < minimum:
        raise ValueError(f"{name}(n) needs an integer n >= {minimum}, got {n!r}")
    return n


def rotation_generators(n: int) -> Tensor:
    """Basis of so(n): $E_{ij} - E_{ji}$ for $i < j$, shape `(n(n-1)/2, n, n)`."""
    i, j = torch.triu_indices(n, n, offset=1)
    k = torch.arange(i.numel())
    gens = torch.zeros(i.numel(), n, n, dtype=_DTYPE)
    gens[k, i, j], gens[k, j, i] = 1.0, -1.0
    return gens


def reflection(n: int, axis: int = 0) -> Tensor:
    """The reflection $x_{axis} \\mapsto -x_{axis}$ of $R^n$, shape `(n, n)`."""
    r = torch.eye(n, dtype=_DTYPE)
    r[axis, axis] = -1.0
    return r


class SO(Group):
    """Special orthogonal group SO(n): rotations of $R^n$ (Lie algebra so(n))."""

    def __init__(self, n: int) -> None:
        n = _check_dim(n, "SO")
        super().__init__(f"SO{n}", rotation_generators(n), d=n, is_compact=True)


class O(Group):
    """Orthogonal group O(n): so(n) plus the reflection $\\mathrm{diag}(-1, 1, ...)$."""

    def __init__(self, n: int) -> None:
        n = _check_dim(n, "O")
        super().__init__(
            f"O{n}",
            rotation_generators(n),
            reflection(n).unsqueeze(0),
            d=n,
            is_compact=True,
        )


class SL(Group):
    """Special linear group SL(n): traceless Lie algebra, non-compact."""

    def __init__(self, n: int) -> None:
        n = _check_dim(n, "SL", minimum=2)
        off = [(i, j) for i in range(n) for j in range(n) if i != j]
        gens = torch.zeros(len(off) + n - 1, n, n, dtype=_DTYPE)
        for k, (i, j) in enumerate(off):
            gens[k, i, j] = 1.0
        for k in range(n - 1):
            gens[len(off) + k, k, k], gens[len(off) + k, k + 1, k + 1] = 1.0, -1.0
        super().__init__(f"SL{n}", gens, d=n, is_compact=False)


class GL(Group):
    """General linear group GL(n): all $E_{ij}$ plus a reflection for det < 0."""

    def __init__(self, n: int) -> None:
        n = _check_dim(n, "GL")
        gens = torch.eye(n * n, dtype=_DTYPE).reshape(n * n, n, n)
        super().__init__(
            f"GL{n}", gens, reflection(n).unsqueeze(0), d=n, is_compact=False
        )


class Lorentz(Group):
    """Full Lorentz group O(1,3) preserving $\\eta = \\mathrm{diag}(1, -1, -1, -1)$.

    Lie algebra: three spatial rotations and three boosts $E_{0i} + E_{i0}$; discrete
    generators: parity $\\mathrm{diag}(1,-1,-1,-1)$ and time reversal
    $\\mathrm{diag}(-1,1,1,1)$. Non-compact (boosts are unbounded): samples draw
    boost rapidities with a third of the rotations' spread (`lie_scales` 1 for
    rotations, 0.3 for boosts, EMLP's ``SO13p.z_scale``), so that augmentation by
    the group stays within the boosts that data of this scale can carry.
    """

    def __init__(self) -> None:
        rotations = torch.zeros(3, 4, 4, dtype=_DTYPE)
        rotations[:, 1:, 1:] = rotation_generators(3)
        boosts = torch.zeros(3, 4, 4, dtype=_DTYPE)
        for i in range(3):
            boosts[i, 0, i + 1] = boosts[i, i + 1, 0] = 1.0
        parity = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=_DTYPE))
        time_reversal = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=_DTYPE))
        super().__init__(
            "Lorentz",
            torch.cat([rotations, boosts]),
            torch.stack([parity, time_reversal]),
            is_compact=False,
            lie_scales=torch.tensor([1.0, 1.0, 1.0, 0.3, 0.3, 0.3], dtype=_DTYPE),
        )


class Scaling(Group):
    """Uniform scaling $x \\mapsto e^t x$ of $R^n$ (Lie algebra $\\{I\\}$)."""

    def __init__(self, n: int) -> None:
        n = _check_dim(n, "Scaling")
        eye = torch.eye(n, dtype=_DTYPE).unsqueeze(0)
        super().__init__(f"Scale{n}", eye, d=n, is_compact=False)


class Trivial(Group):
    """The trivial group {I} on $R^n$: every linear map is equivariant."""

    def __init__(self, n: int) -> None:
        n = _check_dim(n, "Trivial")
        super().__init__(f"Trivial{n}", d=n, is_compact=True)
