"""Matrix groups defined by Lie-algebra and discrete generators.

Every group has a unique `name`, acts on $R^d$, samples elements with an explicit
`torch.Generator`, and can be looked up by name with `get`.
"""

from ._classical import GL, SL, SO, Lorentz, O, Scaling, Trivial
from ._embedded import O2, SO2, Embedded
from ._finite import C, D, S
from ._group import NONCOMPACT_SAMPLE_SCALE, Group
from ._product import DirectProduct, Union
from ._registry import as_group, as_groups, get, names

__all__ = [
    "NONCOMPACT_SAMPLE_SCALE",
    "as_group",
    "as_groups",
    "C",
    "D",
    "GL",
    "O",
    "O2",
    "S",
    "SL",
    "SO",
    "SO2",
    "DirectProduct",
    "Embedded",
    "Group",
    "Lorentz",
    "Scaling",
    "Trivial",
    "Union",
    "get",
    "names",
]
