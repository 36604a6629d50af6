"""Measured quantities: function-space relative equivariance error per group and
weight-space residuals of soft layers."""

from ._equivariance import equivariance_error, gaussian_inputs
from ._weights import weight_residuals

__all__ = ["equivariance_error", "gaussian_inputs", "weight_residuals"]
