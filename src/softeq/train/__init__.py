"""Training: configs and presets, the `Trainer` loop, checkpoints and run folders."""

from ._breaking_tuner import BreakingTuner, strength_for_breaking
from ._checkpoint import load_checkpoint, save_atomic
from ._config import (
    LR_SCHEDULES,
    MODELS,
    PRESETS,
    TUNERS,
    TrainConfig,
    config_change,
    config_from_dict,
    load_config,
    resolve_config,
    validate,
)
from ._cuda_graph import GraphedForward
from ._stopping import STOP_REASONS, EarlyStopping
from ._trainer import (
    RESIDUAL_EVERY,
    NonFiniteLossError,
    Trainer,
    cosine_lr,
    held_out_mse,
)

__all__ = [
    "BreakingTuner",
    "LR_SCHEDULES",
    "MODELS",
    "PRESETS",
    "RESIDUAL_EVERY",
    "STOP_REASONS",
    "TUNERS",
    "EarlyStopping",
    "GraphedForward",
    "NonFiniteLossError",
    "TrainConfig",
    "Trainer",
    "config_change",
    "config_from_dict",
    "cosine_lr",
    "held_out_mse",
    "load_checkpoint",
    "load_config",
    "resolve_config",
    "save_atomic",
    "strength_for_breaking",
    "validate",
]
