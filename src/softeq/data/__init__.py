"""Synthetic and user tasks whose symmetries are stated, so discovery can be scored.

A `Task` holds float32 train/val/test splits, the rep strings, the candidate groups
and, per group, whether the target is ``exact``-ly, ``approximate``-ly or not at all
(``broken``) equivariant. Built-in tasks:

* `inertia` — PER's modified inertia: O(3) and the three embedded O(2)'s;
* `cossim` — PER's cosine similarity: SO(3) x scaling, SO(3), scaling;
* `emlp_inertia`, `o5_synthetic`, `particle_interaction` — the EMLP suite
  (Finzi et al. 2021) under O(3), O(5) and O(1,3);
* `from_file` — a user's ``.npz`` or ``.csv`` with unknown truth;
* `mocap`, `orbits` — real trajectories shipped with the package (human motion
  capture; the planets from JPL DE421), and `motion_task` for any windowed
  trajectory file in the motion layout (`MotionData`), with ADE/FDE metrics;
  ``target="residual"`` (``mocap:residual``) learns the residual to the
  `constant_velocity` forecast.

`get_task` builds any of them from a spec string such as ``"inertia:o2z"``.
"""

from ._cossim import cosine_similarity_target, cossim
from ._emlp_suite import (
    electron_muon_amplitude,
    emlp_inertia,
    o5_function,
    o5_synthetic,
    particle_interaction,
    rigid_inertia,
)
from ._files import from_arrays, from_file
from ._inertia import inertia, inertia_tensor, modified_inertia
from ._mocap import mocap, mocap_data
from ._motion import MotionData, constant_velocity, load_motion, motion_task
from ._motion_metrics import MotionMetrics, ade, fde
from ._planet_orbits import orbits, orbits_data
from ._registry import get_task, task_names
from ._task import (
    TRUTH_LABELS,
    Standardization,
    Task,
    copy_rms,
    emlp_standardization,
    with_measured_truth,
)

__all__ = [
    "TRUTH_LABELS",
    "Standardization",
    "copy_rms",
    "emlp_standardization",
    "MotionData",
    "MotionMetrics",
    "Task",
    "ade",
    "constant_velocity",
    "cosine_similarity_target",
    "cossim",
    "electron_muon_amplitude",
    "emlp_inertia",
    "fde",
    "from_arrays",
    "from_file",
    "get_task",
    "inertia",
    "inertia_tensor",
    "load_motion",
    "mocap",
    "mocap_data",
    "modified_inertia",
    "motion_task",
    "o5_function",
    "o5_synthetic",
    "orbits",
    "orbits_data",
    "particle_interaction",
    "rigid_inertia",
    "task_names",
    "with_measured_truth",
]
