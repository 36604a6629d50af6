"""Measured quantities: function-space relative equivariance error per group, the
symmetry cost of held-out predictions and weight-space residuals of soft layers."""

from ._cost import SymmetryCost, symmetry_cost
from ._equivariance import equivariance_error, gaussian_inputs
from ._orbit_errors import orbit_errors, orbit_parameters
from ._symmetry_report import (
    COST_THRESHOLDS,
    VERDICT_THRESHOLDS,
    render_markdown,
    summary_line,
    symmetry_report,
    verdict,
)
from ._weights import weight_residuals

__all__ = [
    "COST_THRESHOLDS",
    "VERDICT_THRESHOLDS",
    "SymmetryCost",
    "equivariance_error",
    "gaussian_inputs",
    "orbit_errors",
    "orbit_parameters",
    "render_markdown",
    "symmetry_cost",
    "summary_line",
    "symmetry_report",
    "verdict",
    "weight_residuals",
]
