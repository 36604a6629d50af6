"""Parse representation strings such as ``"5*V0+5*V"`` or ``"V2+T(1,1)"``."""

from __future__ import annotations

import re

from ..groups import Group
from ._rep import Rep
from ._tensor_type import TensorType

_TERM = re.compile(
    r"""\s*(?:(?P<mult>\d+)\s*\*\s*)?
        (?P<type>V0|V\*|V2|V3|V|T\(\s*(?P<p>\d+)\s*,\s*(?P<q>\d+)\s*\))\s*""",
    re.VERBOSE | re.ASCII,
)
_FIXED = {
    "V0": TensorType(),
    "V": TensorType.of(1),
    "V*": TensorType.of(0, 1),
    "V2": TensorType.of(2),
    "V3": TensorType.of(3),
}
_EXPECTED = "terms '[k*]TYPE' joined by '+', TYPE one of V0, V, V*, V2, V3, T(p,q)"
# Beyond these a layer could not be built anyway; refusing early keeps a typo such
# as T(30,0) from allocating a huge rep (or 5000-digit numbers from int()'s limit).
MAX_MULTIPLICITY = 1_000_000
MAX_RANK = 8


def _short(text: str) -> str:
    """`repr(text)`, cut to 60 characters so that an error stays one short line."""
    shown = repr(text)
    return shown if len(shown) <= 60 else f"{shown[:56]}...{shown[0]}"


def _bounded(digits: str, limit: int, what: str, where: str) -> int:
    """`int(digits)` if at most `limit` (long strings are not even converted)."""
    value = int(digits) if len(digits) <= len(str(limit)) else limit + 1
    if value > limit:
        raise ValueError(f"{what} must be <= {limit} {where}")
    return value


def _parse_term(term: str, text: str) -> tuple[int, TensorType]:
    m = _TERM.fullmatch(term)
    if m is None:
        raise ValueError(
            f"cannot parse term {_short(term.strip())} in {_short(text)}; "
            f"expected {_EXPECTED}"
        )
    where = f"in {_short(term.strip())} of {_short(text)}"
    mult = _bounded(m.group("mult") or "1", MAX_MULTIPLICITY, "multiplicity", where)
    if mult < 1:
        raise ValueError(f"multiplicity must be >= 1 {where}")
    if m.group("p") is not None:
        p = _bounded(m.group("p"), MAX_RANK, "p", where)
        q = _bounded(m.group("q"), MAX_RANK, "q", where)
        if p + q > MAX_RANK:
            raise ValueError(f"the rank p+q must be <= {MAX_RANK} {where}")
        return mult, TensorType.of(p, q)
    return mult, _FIXED[m.group("type")]


def parse(text: str, group: Group) -> Rep:
    """Parse a representation string for `group`.

    Terms are joined by ``+``; each is ``[k*]TYPE`` with TYPE one of ``V0`` (scalar),
    ``V`` (vector), ``V*`` (dual vector), ``V2`` (V⊗V), ``V3`` (V⊗V⊗V) or ``T(p,q)``.
    The layout is the order written; tensors are flattened row-major.

    Args:
        text: e.g. ``"5*V0+5*V"``.
        group: The group acting on $R^d$.

    Raises:
        ValueError: For an empty or malformed string, naming the bad term, or a
            multiplicity above `MAX_MULTIPLICITY` or a tensor rank $p + q$ above
            `MAX_RANK`.

    Example:
        >>> from softeq.groups import get
        >>> parse("5*V0+5*V", get("O3")).dim
        20
        >>> parse("V2", get("O2z"))
        V2
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"representation string must be non-empty; expected {_EXPECTED}"
        )
    blocks = [_parse_term(term, text) for term in text.split("+")]
    return Rep(group, blocks)
