"""softeq: soft equivariance under mixed symmetries for PyTorch.

The symmetry core lives in three layered subpackages:

* `softeq.groups` — matrix groups given by Lie-algebra and discrete generators;
* `softeq.reps` — tensor representations and their direct sums and products;
* `softeq.basis` — exact equivariant bases and block-structured projectors.

On top of it: `softeq.nn` (soft, hard and residual-pathway layers; `softeq.nn.models`),
`softeq.regularizers` (per-group penalties, strength tuners and baseline wrappers),
`softeq.metrics` (equivariance errors and weight residuals), `softeq.data` (tasks
with known symmetries), `softeq.train` (the trainer and run folders) and
`softeq.auto` (`softeq.fit`: find the symmetries of your data, then use them).
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import auto, basis, data, groups, metrics, nn, regularizers, reps, train
from .auto import Fit, fit

__all__ = [
    "Fit",
    "__version__",
    "auto",
    "basis",
    "data",
    "fit",
    "groups",
    "metrics",
    "nn",
    "regularizers",
    "reps",
    "train",
]
