"""Which candidate groups a model is built, trained or averaged to respect."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from ..basis import is_subgroup
from ..groups import Group, as_group

#: A declared constraint: the group and how the model respects it.
Constraint = tuple[Group, str]


def model_constraints(
    model: nn.Module | Callable[[Tensor], Tensor],
) -> list[Constraint]:
    """The constraints `model`'s modules declare through a ``symmetry_constraint``
    attribute, a ``(group, how)`` pair or None: hard-equivariant networks
    (`softeq.nn.EMLP`, the oracle RPP), `GroupAugmentation`, `GroupAveraged` and
    `FrameAveraged` declare theirs. A declaration anywhere in the model counts:
    conservative, since a constraint can only turn a verdict into
    "undetermined", never into a wrong one.

    Example:
        >>> from softeq.groups import get
        >>> from softeq.nn.models import EMLP
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> model = EMLP(parse("2*V", G), parse("V0", G), "O2z", ch=8, num_layers=1)
        >>> [(g.name, how) for g, how in model_constraints(model)]
        [('O2z', 'hard-equivariant to O2z (EMLP)')]
    """
    if not isinstance(model, nn.Module):
        return []
    found = []
    for module in model.modules():
        constraint = getattr(module, "symmetry_constraint", None)
        if constraint is not None:
            group, how = constraint
            found.append((as_group(group), str(how)))
    return found


def constraint_on(group: Group, constraints: Sequence[Constraint]) -> str | None:
    """How `group` is constrained: the first constraint whose group contains it
    (imposing O(3) imposes each of its O(2)'s), or None."""
    for outer, how in constraints:
        if is_subgroup(group, outer):
            return how if outer == group else f"{how}, which contains {group.name}"
    return None
