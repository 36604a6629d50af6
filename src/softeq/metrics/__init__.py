"""Measured quantities: function-space relative equivariance error per group and
weight-space residuals of soft layers."""

from ._equivariance import equivariance_error, gaussian_inputs
from ._orbits import orbit_errors, orbit_parameters
from ._report import VERDICT_THRESHOLDS, render_markdown, symmetry_report, verdict
from ._weights import weight_residuals

__all__ = [
    "VERDICT_THRESHOLDS",
    "equivariance_error",
    "gaussian_inputs",
    "orbit_errors",
    "orbit_parameters",
    "render_markdown",
    "symmetry_report",
    "verdict",
    "weight_residuals",
]
