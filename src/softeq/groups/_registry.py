"""Look groups up by name: ``get("O2z")``, ``get("S5")``, ``get("SO3xScale3")``."""

from __future__ import annotations

import re
from collections.abc import Callable

from ._classical import GL, SL, SO, Lorentz, O, Scaling, Trivial
from ._embedded import O2, SO2
from ._finite import C, D, S
from ._group import Group
from ._product import DirectProduct, Union

# (pattern, factory from the integer n); the first full match wins.
_PATTERNS: list[tuple[str, Callable[[int], Group]]] = [
    (r"O(\d+)", O),
    (r"SO(\d+)", SO),
    (r"SL(\d+)", SL),
    (r"GL(\d+)", GL),
    (r"S(\d+)", S),
    (r"C(\d+)", C),
    (r"D(\d+)", D),
    (r"Scale(\d+)", Scaling),
    (r"Trivial(\d+)", Trivial),
]

_EXAMPLES = (
    "O3, SO3, O2x, O2y, O2z, SO2x, SO2y, SO2z, Scale3, SO3xScale3, S5, O5, SO4, "
    "C4, D6, Lorentz, SL3, GL3, Trivial3, and direct products joined by '+' (SO3+S4)"
)


def names() -> list[str]:
    """Representative registry names (every ``<n>`` may be any positive integer)."""
    return [
        "O3", "SO3", "O2x", "O2y", "O2z", "SO2x", "SO2y", "SO2z", "Scale3",
        "SO3xScale3", "S5", "O5", "SO4", "C4", "D6", "Lorentz", "SL3", "GL3",
        "Trivial3",
    ]  # fmt: skip


def _get_single(name: str) -> Group | None:
    if name == "Lorentz":
        return Lorentz()
    if m := re.fullmatch(r"(S?O)2([xyz])", name):
        return (O2 if m.group(1) == "O" else SO2)(m.group(2))
    if m := re.fullmatch(r"SO(\d+)xScale(\d+)", name):
        if m.group(1) == m.group(2):
            return Union(SO(int(m.group(1))), Scaling(int(m.group(2))))
        return None
    for pattern, factory in _PATTERNS:
        if m := re.fullmatch(pattern, name):
            try:
                return factory(int(m.group(1)))
            except ValueError:
                return None
    return None


def get(name: str) -> Group:
    """Return the group registered under `name`.

    Args:
        name: e.g. ``"O3"``, ``"O2z"``, ``"S5"``, ``"SO3xScale3"``, ``"Lorentz"``,
            or factors joined by ``+`` for a direct product (``"SO3+S4"``).

    Raises:
        ValueError: For an unknown name, listing the accepted ones.

    Example:
        >>> get("O2z").d
        3
        >>> get("O2x") == get("O2z")
        False
    """
    if not isinstance(name, str):
        raise ValueError(f"group name must be a string, got {type(name).__name__}")
    parts = [part.strip() for part in name.split("+")]
    groups = [_get_single(part) for part in parts]
    if any(g is None for g in groups):
        bad = next(p for p, g in zip(parts, groups, strict=True) if g is None)
        raise ValueError(f"unknown group {bad!r}; expected one of: {_EXAMPLES}")
    if len(groups) == 1:
        return groups[0]  # type: ignore[return-value]
    return DirectProduct(*groups)  # type: ignore[arg-type]
