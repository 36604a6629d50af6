"""Representations: tensor types, direct sums with multiplicities, tensor products.

A `Rep` is a layout of tensor types bound to a group; `parse` reads strings such as
``"5*V0+5*V"``.
"""

from ._parse import parse
from ._rep import Rep, Scalar, T, Vector
from ._tensor_type import TensorType, batched_kron

__all__ = ["Rep", "Scalar", "T", "TensorType", "Vector", "batched_kron", "parse"]
