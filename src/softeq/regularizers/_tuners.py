"""Strength tuners: how strongly each candidate group's penalty is weighted.

Every tuner exposes `strengths` (a dict keyed by group name), `step(epoch,
penalties, model)` called once per epoch with exact per-group penalty values, and
`state_dict()` / `load_state_dict()` for checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn


class ConstantTuner:
    """Fixed strengths: $\\lambda_j$ never changes.

    Args:
        groups: Candidate group names, the largest first.
        init: Strength of every group.
        largest: Strength of `groups[0]`. The reference gives the largest group 0:
            its subgroups generate it, so regularising them pushes towards it.

    Example:
        >>> tuner = ConstantTuner(["O3", "O2x", "O2z"], init=100.0)
        >>> tuner.strengths
        {'O3': 0.0, 'O2x': 100.0, 'O2z': 100.0}
    """

    def __init__(
        self, groups: Sequence[str], init: float = 1.0, *, largest: float = 0.0
    ) -> None:
        groups = list(groups)
        if not groups:
            raise ValueError("a tuner needs at least one group name")
        if init < 0 or largest < 0:
            raise ValueError(
                f"strengths must be >= 0, got init={init}, largest={largest}"
            )
        self.strengths: dict[str, float] = {g: float(init) for g in groups}
        if len(groups) > 1:
            self.strengths[groups[0]] = float(largest)

    def step(
        self, epoch: int, penalties: Mapping[str, float], model: nn.Module | None = None
    ) -> None:
        """Called once per epoch; constant strengths do not change."""

    def state_dict(self) -> dict[str, Any]:
        """The strengths, for checkpoints."""
        return {"strengths": dict(self.strengths)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore strengths saved by `state_dict`."""
        strengths = dict(state["strengths"])
        if set(strengths) != set(self.strengths):
            raise ValueError(
                f"tuner state has groups {sorted(strengths)}, "
                f"expected {sorted(self.strengths)}"
            )
        self.strengths = {k: float(v) for k, v in strengths.items()}
