"""Scalings matched to the data: group elements whose scaling part moves each input
to the scale of another input, so that transformed inputs follow the data's own
distribution instead of leaving it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..groups import Group
from ..reps import Rep

_TOL = 1e-9


@dataclass(frozen=True)
class ScalingSplit:
    """A group $G = \\{s\\,c : s > 0,\\ c \\in C\\}$: uniform scalings times a
    compact group $C$ (rotations, reflections, permutations).

    Attributes:
        compact: $C$: the Lie generators with their trace part removed (all
            antisymmetric) and the discrete generators (all orthogonal).
        degree: The common degree $k = p - q$ of the input components that
            scalings move (`T(p, q)` scales by $s^{p-q}$); components of degree
            0 (scalars) are invariant.
        degrees_in: Degree of every input component, `(rep_in.dim,)`.
        degrees_out: Degree of every output component, `(rep_out.dim,)`.
    """

    compact: Group
    degree: int
    degrees_in: Tensor
    degrees_out: Tensor


def scaling_split(group: Group, rep_in: Rep, rep_out: Rep) -> ScalingSplit | None:
    """Split `group` into uniform scalings and a compact part, if it is one.

    That holds when the identity lies in the span of the Lie algebra, the
    generators' traceless parts are antisymmetric and the discrete generators
    orthogonal (e.g. ``Scale3``, ``SO3xScale3``; not ``GL3`` or ``Lorentz``), and
    every input component that scalings move has the same degree (e.g. ``3*V``,
    ``5*V0+5*V``; not ``V+V2``). Returns None otherwise.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("SO3xScale3")
        >>> split = scaling_split(G, parse("3*V", G), parse("V0", G))
        >>> split.degree, split.compact.lie_algebra.shape[0]
        (1, 3)
        >>> scaling_split(get("GL3"), parse("V", get("GL3")), parse("V", get("GL3")))
    """
    A, h = group.lie_algebra, group.discrete_generators
    d = group.d
    eye = torch.eye(d, dtype=A.dtype)
    if A.shape[0] == 0:
        return None
    span = A.reshape(A.shape[0], -1).T  # (d*d, k)
    target = eye.reshape(-1, 1)
    coeffs = torch.linalg.lstsq(span, target).solution
    if (span @ coeffs - target).abs().max() > _TOL:
        return None  # no uniform scaling in the Lie algebra
    traceless = A - A.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None] / d * eye
    if (traceless + traceless.transpose(-1, -2)).abs().max() > _TOL:
        return None  # a non-compact direction other than scaling
    if h.shape[0] and (h @ h.transpose(-1, -2) - eye).abs().max() > _TOL:
        return None
    kept = traceless[traceless.flatten(1).abs().amax(1) > _TOL]
    compact = Group(f"{group.name}/compact", kept, h, d=d, is_compact=True)
    degrees_in = _degrees(rep_in.with_group(group), eye)
    degrees_out = _degrees(rep_out.with_group(group), eye)
    moved = degrees_in[degrees_in != 0].unique()
    if moved.numel() != 1:
        return None  # nothing moves, or components of several degrees
    return ScalingSplit(compact, int(moved), degrees_in, degrees_out)


def _degrees(rep: Rep, eye: Tensor) -> Tensor:
    """$p - q$ of every component: the diagonal of $d\\rho(I)$."""
    return rep.drho(eye).diagonal().round().to(torch.long)


def matched_scalings(
    split: ScalingSplit, x: Tensor, n_samples: int, generator: torch.Generator | None
) -> Tensor:
    """Scale factors `(n_samples, n)` that take input $x_i$ to the scale of a
    randomly drawn input $x_j$: $s = r(x_j) / r(x_i)$ with
    $r(x) = \\|x_{moved}\\|^{1/k}$, so that $r(s\\,x_i) = r(x_j)$.

    If the inputs' scale is independent of the rest of their distribution (their
    directions, their invariant components), $s\\,x_i$ is distributed as the data
    themselves; where either scale is 0, $s = 1$.
    """
    moved = split.degrees_in != 0
    r = x.double()[:, moved.to(x.device)].norm(dim=1) ** (1.0 / split.degree)
    partner = torch.randint(len(x), (n_samples, len(x)), generator=generator)
    r_partner = r[partner.to(r.device)]
    valid = (r > 0) & (r_partner > 0)
    ratio = r_partner / r.clamp_min(1e-300)
    return torch.where(valid, ratio, torch.ones_like(ratio))
