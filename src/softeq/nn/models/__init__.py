"""Models: MLP, EMLP, RPP-EMLP and the soft PER network, and `build` by name."""

from ._allocation import ALLOCATIONS, allocate, max_rank
from ._base import Model
from ._emlp import EMLP, RPPEMLP, EMLPBlock, SoftEMLP, check_candidate_groups
from ._factory import MODEL_NAMES, build
from ._mlp import MLP

__all__ = [
    "ALLOCATIONS",
    "EMLP",
    "MLP",
    "MODEL_NAMES",
    "RPPEMLP",
    "EMLPBlock",
    "Model",
    "SoftEMLP",
    "allocate",
    "build",
    "check_candidate_groups",
    "max_rank",
]
