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

#: Largest n of a group acting on R^n (O, SO, SL, GL, S, Scale, Trivial). Their
#: generators take up to n^4 numbers, so a typo such as "O99999" must fail here,
#: not in the allocator. A direct product acts on R^(sum of its factors' n).
MAX_DIM = 64
#: Largest order n of C(n) and D(n).
MAX_ORDER = 1_000_000

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


def _short(name: str) -> str:
    """`repr(name)`, cut to 40 characters so that an error stays one short line."""
    shown = repr(name)
    return shown if len(shown) <= 40 else f"{shown[:36]}...{shown[0]}"


def _number(digits: str, name: str, *, is_order: bool) -> int:
    """`int(digits)`, refusing an $n$ above `MAX_DIM` (or an order above
    `MAX_ORDER`) with a one-line error."""
    limit = MAX_ORDER if is_order else MAX_DIM
    if len(digits) <= len(str(limit)) and int(digits) <= limit:
        return int(digits)
    if is_order:
        what = f"order <= {MAX_ORDER} for C and D"
    else:
        what = f"n <= {MAX_DIM} for O, SO, SL, GL, S, Scale, Trivial (on R^n)"
    raise ValueError(f"group {_short(name)} is too large; softeq supports {what}")


def _get_single(name: str) -> Group | None:
    if name == "Lorentz":
        return Lorentz()
    if m := re.fullmatch(r"(S?O)2([xyz])", name):
        return (O2 if m.group(1) == "O" else SO2)(m.group(2))
    if m := re.fullmatch(r"SO(\d+)xScale(\d+)", name, flags=re.ASCII):
        if m.group(1) == m.group(2):
            n = _number(m.group(1), name, is_order=False)
            return Union(SO(n), Scaling(n))
        return None
    for pattern, factory in _PATTERNS:
        if m := re.fullmatch(pattern, name, flags=re.ASCII):
            n = _number(m.group(1), name, is_order=factory in (C, D))
            try:
                return factory(n)
            except ValueError:
                return None
    return None


def get(name: str) -> Group:
    """Return the group registered under `name`.

    Args:
        name: e.g. ``"O3"``, ``"O2z"``, ``"S5"``, ``"SO3xScale3"``, ``"Lorentz"``,
            or factors joined by ``+`` for a direct product (``"SO3+S4"``).

    Raises:
        ValueError: For an unknown name, listing the accepted ones, or a
            group acting on $R^n$ with $n$ above `MAX_DIM`.

    Example:
        >>> get("O2z").d
        3
        >>> get("O2x") == get("O2z")
        False
    """
    if not isinstance(name, str):
        raise ValueError(f"group name must be a string, got {type(name).__name__}")
    groups, total = [], 0
    for part in name.split("+"):
        group = _get_single(part.strip())
        if group is None:
            raise ValueError(
                f"unknown group {_short(part.strip())}; expected one of: {_EXAMPLES}"
            )
        groups.append(group)
        total += group.d
        if total > MAX_DIM:  # checked as we go: each factor costs memory
            raise ValueError(
                f"group {_short(name)} would act on R^{total} or more; softeq "
                f"supports n <= {MAX_DIM}"
            )
    return groups[0] if len(groups) == 1 else DirectProduct(*groups)


def as_group(group: object) -> Group:
    """`group` itself if it is a `Group`, the registered group if it is a name.

    Raises:
        TypeError: For anything that is neither a `Group` nor a name.
        ValueError: For an unknown name.

    Example:
        >>> as_group("O2z") == get("O2z") == as_group(get("O2z"))
        True
    """
    if isinstance(group, str):
        return get(group)
    if isinstance(group, Group):
        return group
    raise TypeError(
        f"expected a softeq Group or a group name, got {type(group).__name__} {group!r}"
    )


def as_groups(groups: object) -> list[Group]:
    """A list of `Group`s from groups and/or registry names (resolved with `get`).

    Raises:
        TypeError: For anything that is neither a `Group` nor a name, or for a
            single string or group where a sequence is expected.
        ValueError: For an unknown name.

    Example:
        >>> [g.name for g in as_groups(["O3", get("O2z")])]
        ['O3', 'O2z']
    """
    if isinstance(groups, str | Group) or not hasattr(groups, "__iter__"):
        raise TypeError(f"expected a sequence of groups or group names, got {groups!r}")
    return [as_group(g) for g in groups]
