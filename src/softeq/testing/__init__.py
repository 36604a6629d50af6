"""Public testing helpers: equivariance checks and the tolerance table."""

from ._equivariance import assert_equivariant, equivariance_gap, relative_error
from ._tolerances import TOL, tolerance

__all__ = [
    "TOL",
    "assert_equivariant",
    "equivariance_gap",
    "relative_error",
    "tolerance",
]
