"""`EarlyStopping`: when a run has converged, read off a smoothed validation curve."""

from __future__ import annotations

import math
from typing import Any

#: Why a run stopped, as recorded in its summary.
STOP_REASONS = ("converged", "patience", "epoch cap", "fast_dev_run")


class EarlyStopping:
    """Decide, epoch by epoch, whether to lower the learning rate or stop.

    The watched curve is an exponential moving average of $\\log$ validation MSE
    with span `smoothing` epochs, $s_t = s_{t-1} + \\alpha(\\log v_t - s_{t-1})$ and
    $\\alpha = 2/(\\text{smoothing} + 1)$ ($s_t = \\log v_t$ when `smoothing` is 0).
    After `start` epochs, an epoch *improves* when $s_t < b + \\log(1 - \\delta)$
    for the best smoothed value $b$ so far and `min_improvement` $\\delta$. After
    `patience` epochs without improvement the run drops its learning rate by 10
    if it has drops left (`lr_drops`), else stops: a run stops as *converged*
    when not even a ten-times smaller step improves the smoothed curve.

    With `smoothing = 0`, `min_improvement = 0` and no drops this is the
    reference's rule: stop after `patience` epochs without a new best raw
    validation MSE.

    Args:
        patience: Epochs without improvement before acting; 0 never acts.
        smoothing: EMA span in epochs (0: the raw curve).
        min_improvement: Relative decrease that counts, in [0, 1).
        lr_drops: Learning-rate drops allowed before stopping.
        start: Epochs (1-based count) before improvements are counted.

    Example:
        >>> stop = EarlyStopping(patience=2, smoothing=0, min_improvement=0.0,
        ...                      lr_drops=1, start=0)
        >>> [stop.update(v) for v in [3.0, 2.0, 2.5, 2.5, 2.5, 2.5]]
        [None, None, None, 'drop', None, 'stop']
    """

    def __init__(
        self,
        *,
        patience: int,
        smoothing: int,
        min_improvement: float,
        lr_drops: int,
        start: int,
    ) -> None:
        self.patience, self.lr_drops, self.start = patience, lr_drops, start
        self.alpha = 2.0 / (smoothing + 1) if smoothing > 0 else 1.0
        self.threshold = math.log1p(-min_improvement)
        self.smoothed: float | None = None
        self.best: float | None = None
        self.bad_epochs = 0
        self.drops = 0
        self.seen = 0

    @property
    def lr_factor(self) -> float:
        """$10^{-\\text{drops}}$: the factor on the configured learning rate."""
        return 0.1**self.drops

    def update(self, val: float) -> str | None:
        """Take this epoch's validation MSE; ``"drop"``, ``"stop"`` or None."""
        log_val = math.log(max(val, 1e-300))
        if self.smoothed is None:
            self.smoothed = log_val
        else:
            self.smoothed += self.alpha * (log_val - self.smoothed)
        self.seen += 1
        if self.seen <= self.start:
            return None
        if self.best is None or self.smoothed < self.best + self.threshold:
            self.best, self.bad_epochs = self.smoothed, 0
            return None
        self.bad_epochs += 1
        if not 0 < self.patience <= self.bad_epochs:
            return None
        if self.drops < self.lr_drops:
            self.drops += 1
            self.bad_epochs = 0
            return "drop"
        return "stop"

    def restore_reference(
        self, *, bad_epochs: int, epochs_seen: int, best_val: float | None
    ) -> None:
        """Rebuild the state of the reference rule (raw curve, no drops) from a
        checkpoint written before `EarlyStopping` existed."""
        best = None if best_val is None else math.log(max(best_val, 1e-300))
        self.smoothed, self.best = best, best
        self.bad_epochs, self.drops, self.seen = bad_epochs, 0, epochs_seen

    def state_dict(self) -> dict[str, Any]:
        """Everything `update` depends on, for checkpoints."""
        return {"smoothed": self.smoothed, "best": self.best,
                "bad_epochs": self.bad_epochs, "drops": self.drops,
                "seen": self.seen}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state saved by `state_dict`."""
        self.smoothed, self.best = state["smoothed"], state["best"]
        self.bad_epochs, self.drops = int(state["bad_epochs"]), int(state["drops"])
        self.seen = int(state["seen"])
