"""Groups embedded on coordinates of a larger space, e.g. O(2) about the z axis."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._classical import SO, O
from ._group import Group

_DTYPE = torch.float64

# The plane rotated by "rotation about the axis": the two remaining coordinates.
AXIS_PLANES: dict[str, tuple[int, int]] = {"x": (1, 2), "y": (0, 2), "z": (0, 1)}


def _embed(gens: Tensor, d: int, coords: Sequence[int], identity: bool) -> Tensor:
    """Place `(k, n, n)` matrices on `coords` of $R^d$; identity (or 0) elsewhere."""
    out = torch.eye(d, dtype=_DTYPE) if identity else torch.zeros(d, d, dtype=_DTYPE)
    out = out.expand(gens.shape[0], d, d).clone()
    index = torch.as_tensor(list(coords))
    out[:, index[:, None], index[None, :]] = gens
    return out


class Embedded(Group):
    """A group acting on the coordinates `coords` of $R^d$ and trivially on the rest.

    Lie generators are embedded with zeros outside the slice, discrete generators
    with the identity, so $g = \\mathrm{diag}(g_{slice}, I)$ up to the coordinate
    order.

    Args:
        group: The group acting on $R^{len(coords)}$.
        d: Dimension of the ambient space.
        coords: Distinct coordinate indices the group acts on.
        name: Unique name; it must say which slice, so that embeddings differ.
    """

    def __init__(
        self, group: Group, d: int, coords: Sequence[int], *, name: str
    ) -> None:
        coords = tuple(int(c) for c in coords)
        if len(set(coords)) != len(coords) or len(coords) != group.d:
            raise ValueError(
                f"coords must be {group.d} distinct indices for {group.name}, "
                f"got {coords}"
            )
        if not all(0 <= c < d for c in coords):
            raise ValueError(f"coords {coords} out of range for R^{d}")
        self.base = group
        self.coords = coords
        super().__init__(
            name,
            _embed(group.lie_algebra, d, coords, identity=False),
            _embed(group.discrete_generators, d, coords, identity=True),
            d=d,
            is_compact=group.is_compact,
            lie_scales=group.lie_scales,
        )


def _plane(axis: str) -> tuple[int, int]:
    if axis not in AXIS_PLANES:
        raise ValueError(f"axis must be one of 'x', 'y', 'z', got {axis!r}")
    return AXIS_PLANES[axis]


class O2(Embedded):
    """O(2) about one axis of $R^3$: rotations about it plus a reflection fixing it.

    The reflection flips the first coordinate of the rotated plane (x for the z and y
    axes, y for the x axis), so the axis itself is always fixed. Names: ``O2x``,
    ``O2y``, ``O2z``; the three are distinct groups.
    """

    def __init__(self, axis: str) -> None:
        super().__init__(O(2), 3, _plane(axis), name=f"O2{axis}")
        self.axis = axis


class SO2(Embedded):
    """SO(2) about one axis of $R^3$ (rotations only). Names ``SO2x|y|z``."""

    def __init__(self, axis: str) -> None:
        super().__init__(SO(2), 3, _plane(axis), name=f"SO2{axis}")
        self.axis = axis
