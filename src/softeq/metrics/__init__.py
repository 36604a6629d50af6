"""Measured quantities: function-space relative equivariance error per group, the
symmetry cost and breaking of held-out predictions, weight-space residuals of soft
layers, and the verdicts of the symmetry report."""

from ._constraints import constraint_on, model_constraints
from ._cost import SymmetryCost, symmetry_cost
from ._equivariance import equivariance_error, gaussian_inputs
from ._orbit_errors import orbit_errors, orbit_parameters
from ._symmetry_report import (
    render_markdown,
    summary_line,
    symmetry_report,
    true_breaking,
)
from ._verdict_score import (
    TRUTH_ORDER,
    pooled_score_cells,
    ranked_entries,
    score_verdicts,
)
from ._verdicts import (
    BREAKING_THRESHOLDS,
    CONSTRAINED_ERROR,
    VERDICT_THRESHOLDS,
    Z_95,
    interval_verdict,
    verdict,
)
from ._weights import weight_residuals

__all__ = [
    "BREAKING_THRESHOLDS",
    "CONSTRAINED_ERROR",
    "TRUTH_ORDER",
    "VERDICT_THRESHOLDS",
    "Z_95",
    "SymmetryCost",
    "constraint_on",
    "interval_verdict",
    "model_constraints",
    "true_breaking",
    "equivariance_error",
    "gaussian_inputs",
    "orbit_errors",
    "orbit_parameters",
    "pooled_score_cells",
    "ranked_entries",
    "render_markdown",
    "score_verdicts",
    "symmetry_cost",
    "summary_line",
    "symmetry_report",
    "verdict",
    "weight_residuals",
]
