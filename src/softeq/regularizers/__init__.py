"""Per-group equivariance penalties and the model wrappers used as baselines.

`ProjectionPenalty` is the exact, structured penalty of soft linear layers;
`OrbitPenalty` is the sample-based regularizer for any model; `GroupAugmentation`
(data augmentation) and `FrameAveraged` (frame averaging) wrap a model as baselines.
"""

from ._augment import GroupAugmentation
from ._evidence import EvidenceTuner, gauss_newton_diagonals
from ._frame_averaging import FrameAveraged
from ._orbit import OrbitPenalty
from ._projection import ProjectionPenalty, soft_layers
from ._tuners import ConstantTuner, OrbitTuner, PERTuner

__all__ = [
    "ConstantTuner",
    "EvidenceTuner",
    "FrameAveraged",
    "GroupAugmentation",
    "OrbitPenalty",
    "OrbitTuner",
    "PERTuner",
    "ProjectionPenalty",
    "gauss_newton_diagonals",
    "soft_layers",
]
