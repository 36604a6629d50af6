"""Find the symmetries of the data, then use them: `fit`.

`fit` (and `fit_task` for a ready `softeq.data.Task`) trains any model with
evidence from held-out data, decides per candidate group whether to impose it,
keep it soft or ignore it (`GroupChoice`, `make_plan`), and returns a `Fit`:
the model, the evidence report and the plan (docs/fit.md).
"""

from ._carriers import Carrier, as_carriers, keep_best, render_carriers
from ._fit import (
    AVERAGE_ELEMENTS,
    CANDIDATES,
    HIDDEN_CHOOSE,
    HIDDEN_STRENGTH,
    KINDS,
    PER_STRENGTHS,
    PER_WEIGHT_DECAYS,
    SOFT_TUNERS,
    STRENGTH_MARK,
    TOP_STRENGTH,
    Fit,
    fit,
    fit_carriers,
    fit_task,
    soft_stage,
)
from ._plan import (
    ACTIONS,
    HIDDEN_TAG,
    GroupChoice,
    could_be_exact,
    disagreements,
    groups_to_impose,
    imposed_group,
    imposed_validation,
    make_plan,
    render_plan,
)

__all__ = [
    "ACTIONS",
    "AVERAGE_ELEMENTS",
    "Carrier",
    "CANDIDATES",
    "HIDDEN_CHOOSE",
    "HIDDEN_STRENGTH",
    "HIDDEN_TAG",
    "KINDS",
    "PER_STRENGTHS",
    "PER_WEIGHT_DECAYS",
    "SOFT_TUNERS",
    "STRENGTH_MARK",
    "TOP_STRENGTH",
    "Fit",
    "as_carriers",
    "fit_carriers",
    "keep_best",
    "render_carriers",
    "GroupChoice",
    "could_be_exact",
    "disagreements",
    "fit",
    "fit_task",
    "groups_to_impose",
    "imposed_group",
    "imposed_validation",
    "make_plan",
    "render_plan",
    "soft_stage",
]
