"""Measured quantities: function-space relative equivariance error per group, the
symmetry cost and breaking of held-out predictions, weight-space residuals of soft
layers, the verdicts of the symmetry report, and per-point held-out errors."""

from ._constraints import constraint_on, model_constraints
from ._cost import SymmetryCost, symmetry_cost
from ._equivariance import equivariance_error, gaussian_inputs
from ._orbit_errors import orbit_errors, orbit_parameters
from ._point_errors import (
    SPREAD_FIELDS,
    TRIM_SHARE,
    error_spread,
    point_errors,
    spread_fields,
)
from ._support import outside_data_share
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
    OUTSIDE_DATA_THRESHOLD,
    VERDICT_THRESHOLDS,
    Z_95,
    interval_verdict,
    verdict,
)
from ._weights import weight_residuals

__all__ = [
    "BREAKING_THRESHOLDS",
    "CONSTRAINED_ERROR",
    "OUTSIDE_DATA_THRESHOLD",
    "TRUTH_ORDER",
    "TRIM_SHARE",
    "VERDICT_THRESHOLDS",
    "Z_95",
    "SPREAD_FIELDS",
    "SymmetryCost",
    "constraint_on",
    "interval_verdict",
    "model_constraints",
    "true_breaking",
    "equivariance_error",
    "error_spread",
    "gaussian_inputs",
    "orbit_errors",
    "orbit_parameters",
    "outside_data_share",
    "point_errors",
    "pooled_score_cells",
    "ranked_entries",
    "render_markdown",
    "score_verdicts",
    "spread_fields",
    "symmetry_cost",
    "summary_line",
    "symmetry_report",
    "verdict",
    "weight_residuals",
]
