"""Parse representation strings such as ``"5*V0+5*V"`` or ``"V2+T(1,1)"``."""

from __future__ import annotations

import re

from ..groups import Group
from ._rep import Rep
from ._tensor_type import TensorType

_TERM = re.compile(
    r"""\s*(?:(?P<mult>\d+)\s*\*\s*)?
        (?P<type>V0|V\*|V2|V3|V|T\(\s*(?P<p>\d+)\s*,\s*(?P<q>\d+)\s*\))\s*""",
    re.VERBOSE,
)
_FIXED = {
    "V0": TensorType(),
    "V": TensorType.of(1),
    "V*": TensorType.of(0, 1),
    "V2": TensorType.of(2),
    "V3": TensorType.of(3),
}
_EXPECTED = "terms '[k*]TYPE' joined by '+', TYPE one of V0, V, V*, V2, V3, T(p,q)"


def _parse_term(term: str, text: str) -> tuple[int, TensorType]:
    m = _TERM.fullmatch(term)
    if m is None:
        raise ValueError(
            f"cannot parse term {term.strip()!r} in {text!r}; expected {_EXPECTED}"
        )
    mult = int(m.group("mult") or 1)
    if mult < 1:
        raise ValueError(f"multiplicity must be >= 1 in {term.strip()!r} of {text!r}")
    if m.group("p") is not None:
        return mult, TensorType.of(int(m.group("p")), int(m.group("q")))
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
        ValueError: For an empty or malformed string, naming the bad term.

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
