"""Layers between representations and the gated nonlinearities of EMLP networks.

Models live in `softeq.nn.models`.
"""

from . import functional, models
from ._bilinear import EquivariantBilinear
from ._gated import (
    GatedNonlinearity,
    RPPGatedNonlinearity,
    gate_index,
    gated,
    num_gates,
)
from ._linear import (
    EquivariantLinear,
    RPPLinear,
    SoftLinear,
    affine_features_first,
    dense_init,
    soft_layers,
)
from ._standardize import Standardize

__all__ = [
    "EquivariantBilinear",
    "EquivariantLinear",
    "GatedNonlinearity",
    "RPPGatedNonlinearity",
    "RPPLinear",
    "SoftLinear",
    "Standardize",
    "affine_features_first",
    "dense_init",
    "functional",
    "gate_index",
    "gated",
    "models",
    "num_gates",
    "soft_layers",
]
