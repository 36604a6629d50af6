"""softeq: soft equivariance under mixed symmetries for PyTorch.

The symmetry core lives in three layered subpackages:

* `softeq.groups` — matrix groups given by Lie-algebra and discrete generators;
* `softeq.reps` — tensor representations and their direct sums and products;
* `softeq.basis` — exact equivariant bases and block-structured projectors.
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import basis, groups, reps

__all__ = ["__version__", "basis", "groups", "reps"]
