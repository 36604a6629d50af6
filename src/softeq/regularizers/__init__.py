"""Per-group equivariance penalties and the model wrappers used as baselines.

`ProjectionPenalty` is the exact, structured penalty of soft linear layers;
`OrbitPenalty` is the sample-based regularizer for any model; `GroupAugmentation`
(data augmentation) and `FrameAveraged` (frame averaging) wrap a model as baselines;
`GroupAveraged` averages a trained model over a group the data respect.
"""

from ..nn import soft_layers  # lives in softeq.nn; kept here for existing callers
from ._augment import GroupAugmentation
from ._averaging import GroupAveraged
from ._evidence_tuner import EvidenceTuner, gauss_newton_diagonals
from ._frame_averaging import FrameAveraged
from ._orbit import OrbitPenalty
from ._projection import ProjectionPenalty
from ._tuners import ConstantTuner, OrbitTuner, PERTuner

__all__ = [
    "ConstantTuner",
    "EvidenceTuner",
    "FrameAveraged",
    "GroupAugmentation",
    "GroupAveraged",
    "OrbitPenalty",
    "OrbitTuner",
    "PERTuner",
    "ProjectionPenalty",
    "gauss_newton_diagonals",
    "soft_layers",
]
