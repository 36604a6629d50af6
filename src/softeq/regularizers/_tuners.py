"""Strength tuners: how strongly each candidate group's penalty is weighted.

Every tuner exposes `strengths` (a dict keyed by group name); `step(epoch,
penalties, model=None, **info)`, called once per epoch with the 0-based epoch just
finished and ``{group name: R_j}`` for every candidate (extra keys are ignored);
`state_dict()` / `load_state_dict()` for checkpoints; and `diagnostics()`: the
quantities behind the latest step's update, which the trainer logs beside the
strengths (``tuner/...`` keys of ``metrics.jsonl``).

The penalties may be Python numbers or scalar tensors, e.g. the dict that
`ProjectionPenalty()` returns, still attached to its autograd graph: tuners detach
them and keep only floats, so a tuner never holds a graph (or GPU memory) alive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from torch import Tensor, nn

from ..groups import Group


def _scalar(value: object, group: str, who: str) -> float:
    """`value` (a number, or a one-element tensor read after `detach`) as a float."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{who}: the penalty of {group} must be a scalar, got a tensor of "
                f"shape {tuple(value.shape)}"
            )
        value = value.detach().item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(
            f"{who}: the penalty of {group} must be a number or a scalar tensor, "
            f"got {type(value).__name__}"
        )
    if not math.isfinite(value):
        raise ValueError(f"{who}: the penalty of {group} must be finite, got {value}")
    return float(value)


def group_names(groups: Sequence[str | Group], who: str) -> list[str]:
    """The keys of a tuner's strengths: names as given, `Group`s by `group.name`.

    Names are not looked up in the registry: a tuner only keys strengths by the
    names its penalties use, which may belong to groups built by hand.
    """
    if isinstance(groups, str | Group) or not hasattr(groups, "__iter__"):
        raise TypeError(
            f"{who} expected a sequence of groups or group names, got {groups!r}"
        )
    names = []
    for g in groups:
        if not isinstance(g, str | Group):
            raise TypeError(
                f"{who} expected a softeq Group or a group name, got "
                f"{type(g).__name__} {g!r}"
            )
        names.append(g if isinstance(g, str) else g.name)
    if not names:
        raise ValueError(f"{who} needs at least one group, got none")
    if len(set(names)) != len(names):
        raise ValueError(f"{who} needs distinct group names, got {names}")
    return names


def on_schedule(epoch: int, start: int, every: int) -> bool:
    """Whether the 0-based `epoch` is one of a schedule's: the 1-based epochs
    `start`, `start + every`, `start + 2 every`, ... (the tuners that act
    periodically: `EvidenceTuner.updates_at`, `BreakingTuner.due`).

    Example:
        >>> [e + 1 for e in range(30) if on_schedule(e, start=10, every=7)]
        [10, 17, 24]
    """
    e1 = epoch + 1
    return e1 >= start and (e1 - start) % every == 0


class ConstantTuner:
    """Fixed strengths: $\\lambda_j$ never changes.

    Args:
        groups: Candidate groups or their names, the largest first.
        init: Strength of every group.
        largest: Strength of `groups[0]`. The reference gives the largest group 0:
            its subgroups generate it, so regularising them pushes towards it.

    Example:
        >>> tuner = ConstantTuner(["O3", "O2x", "O2z"], init=100.0)
        >>> tuner.strengths
        {'O3': 0.0, 'O2x': 100.0, 'O2z': 100.0}
        >>> from softeq.groups import get
        >>> ConstantTuner([get("O3"), "O2z"], init=2.0).strengths
        {'O3': 0.0, 'O2z': 2.0}
    """

    def __init__(
        self,
        groups: Sequence[str | Group],
        init: float = 1.0,
        *,
        largest: float = 0.0,
    ) -> None:
        #: The candidates' names, the largest first: the keys of `strengths`.
        self.groups = groups = group_names(groups, type(self).__name__)
        if init < 0 or largest < 0:
            raise ValueError(
                f"strengths must be >= 0, got init={init}, largest={largest}"
            )
        self.strengths: dict[str, float] = {g: float(init) for g in groups}
        if len(groups) > 1:
            self.strengths[groups[0]] = float(largest)

    def step(
        self,
        epoch: int,
        penalties: Mapping[str, float | Tensor],
        model: nn.Module | None = None,
        **info: Any,
    ) -> None:
        """Called once per epoch; constant strengths do not change (the arguments
        are checked as every tuner's are)."""
        self._read(epoch, penalties)

    def reads_penalties(self, epoch: int) -> bool:
        """Whether `step` at this 0-based epoch uses the exact penalties.

        A trainer may skip computing them (and this epoch's `step`) when it is
        False; the strengths cannot change then. False for constant strengths;
        True for a subclass with a `step` of its own, unless it knows better
        (`PERTuner`: only before it has fired; `EvidenceTuner`: only at its
        updates).

        Example:
            >>> ConstantTuner(["O3", "O2z"]).reads_penalties(0)
            False
        """
        return type(self).step is not ConstantTuner.step

    def _read(
        self, epoch: int, penalties: Mapping[str, float | Tensor]
    ) -> dict[str, float]:
        """Check a `step`'s arguments; return every group's penalty as a float.

        Tensors are detached before they are read: nothing of the caller's
        autograd graph is kept.

        Raises:
            ValueError: For an epoch that is not an int >= 0, or penalties that are
                not a mapping holding a finite scalar for every group.
        """
        who = f"{type(self).__name__}.step"
        if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 0:
            raise ValueError(f"{who} expects a 0-based epoch (int >= 0), got {epoch!r}")
        if not isinstance(penalties, Mapping):
            raise ValueError(
                f"{who} expects penalties as a mapping {{group name: value}}, got "
                f"{type(penalties).__name__}"
            )
        missing = [g for g in self.groups if g not in penalties]
        if missing:
            raise ValueError(
                f"{who} needs a penalty for every group {self.groups}; missing "
                f"{missing} (got {sorted(map(str, penalties))})"
            )
        return {g: _scalar(penalties[g], g, who) for g in self.groups}

    def diagnostics(self) -> dict[str, float]:
        """What the latest `step` computed to update the strengths, by name (empty
        when it did not update; always empty here)."""
        return {}

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


class PERTuner(ConstantTuner):
    """The reference's one-shot rescaling (Kim et al. 2023, `AdjustEquiv`).

    The largest group `groups[0]` gets strength 0; the others start at `init`. Exact
    per-group penalties $R_j$ (summed over layers) are collected every epoch — or,
    with ``window=True`` (most reference scripts), only in the 101 epochs up to
    `adjust_at` — the first `warmup` collections are ignored, and whenever *any*
    component drops below the stored minimum the *whole* stored vector is replaced
    (so it is effectively the latest $R$). At epoch `adjust_at` (1-based), once:

    $\\lambda_j \\leftarrow \\lambda_j\\,(R_{min}/R_j)^{p}$, with $R_{min}$ the smallest
    stored $R_j$ among groups with $\\lambda_j \\ne 0$.

    Groups the data respect keep a large strength; violated ones are down-weighted.

    The warm-up scales with `adjust_at`: by default it is ``min(50, adjust_at -
    1)``, the reference's 50 collections whenever that leaves one before
    `adjust_at`, else all but the tuning epoch's. Every run that tunes after epoch
    50 (every preset at its full length, ``fast`` at 75 included) is unchanged; a
    shorter one tunes on the penalties of its tuning epoch instead of silently
    never tuning. A proportional warm-up such as ``adjust_at // 2`` was not chosen:
    it would change the ``fast`` preset's runs (and the results made with them)
    for little gain, since the stored vector, replaced whenever any component
    drops, is close to the latest $R$ whatever the warm-up. An explicit `warmup`
    that ignores every collection up to `adjust_at` is refused.

    Args:
        groups: Candidate groups or their names, the largest first.
        init: Initial strength of every group but the largest.
        adjust_at: The 1-based epoch at which strengths are rescaled.
        power: The exponent p (reference: 2 synthetic, 5 motion).
        warmup: Collections ignored at first (reference: 50); None for
            ``min(50, adjust_at - 1)``. Must leave a collection before
            `adjust_at`: below `adjust_at`, and below 100 with `window`.
        window: Collect only in the 101 epochs before `adjust_at`.

    Raises:
        ValueError: For adjust_at < 1, power < 0, warmup < 0, or a warm-up that
            ignores every collection up to `adjust_at`.

    Example:
        >>> tuner = PERTuner(["O3", "O2x", "O2z"], init=100.0, adjust_at=52, warmup=50)
        >>> for epoch in range(52):
        ...     tuner.step(epoch, {"O3": 1.0, "O2x": 0.4, "O2z": 0.1})
        >>> tuner.strengths
        {'O3': 0.0, 'O2x': 6.25, 'O2z': 100.0}
        >>> PERTuner(["O3", "O2z"], adjust_at=38).warmup  # a short run still tunes
        37
    """

    def __init__(
        self,
        groups: Sequence[str | Group],
        init: float = 100.0,
        *,
        adjust_at: int = 2000,
        power: float = 2.0,
        warmup: int | None = None,
        window: bool = False,
    ) -> None:
        super().__init__(groups, init)
        if adjust_at < 1 or power < 0 or (warmup is not None and warmup < 0):
            raise ValueError(
                f"need adjust_at >= 1, warmup >= 0, power >= 0; got {adjust_at}, "
                f"{warmup}, {power}"
            )
        if warmup is None:
            warmup = min(50, adjust_at - 1)
        # collections up to and including the tuning epoch
        collected = min(adjust_at, 100) if window else adjust_at
        if warmup >= collected:
            raise ValueError(
                f"{type(self).__name__} would never rescale: warmup={warmup} "
                f"ignores all {collected} collections up to adjust_at={adjust_at}"
                f"{' (window mode)' if window else ''}; expected warmup < "
                f"{collected}, or warmup=None to scale it with adjust_at"
            )
        self.adjust_at, self.power, self.warmup, self.window = (
            adjust_at, power, warmup, window,
        )  # fmt: skip
        self.min_penalties: list[float] | None = None
        self.calls = 0
        self.fired = False

    def _collects(self, e1: int) -> bool:
        return not self.window or self.adjust_at - 100 < e1 <= self.adjust_at + 1

    def reads_penalties(self, epoch: int) -> bool:
        """True at the epochs whose penalties are collected, up to the rescaling
        at `adjust_at`; never after it: the strengths are final then.

        Example:
            >>> tuner = PERTuner(["O3", "O2z"], adjust_at=200, window=True)
            >>> [tuner.reads_penalties(e) for e in (0, 100, 199, 200)]
            [False, True, True, False]
        """
        e1 = epoch + 1
        return not self.fired and e1 <= self.adjust_at and self._collects(e1)

    def step(
        self,
        epoch: int,
        penalties: Mapping[str, float | Tensor],
        model: nn.Module | None = None,
        **info: Any,
    ) -> None:
        """Collect this epoch's penalties and rescale once at `adjust_at`."""
        values = self._read(epoch, penalties)
        e1 = epoch + 1
        if self._collects(e1):
            self.calls += 1
            if self.calls > self.warmup:
                current = [values[g] for g in self.groups]
                stored = self.min_penalties
                if stored is None or any(
                    c < s for c, s in zip(current, stored, strict=True)
                ):
                    self.min_penalties = current
        if e1 == self.adjust_at and self.min_penalties is not None and not self.fired:
            self._rescale(self.min_penalties)
            self.fired = True

    def _rescale(self, R: list[float]) -> None:
        active = [r for g, r in zip(self.groups, R, strict=True) if self.strengths[g]]
        if not active:
            return
        r_min = min(active)
        for g, r in zip(self.groups, R, strict=True):
            if self.strengths[g] and r > 0:
                self.strengths[g] *= (r_min / r) ** self.power

    def state_dict(self) -> dict[str, Any]:
        """Strengths and the collection state."""
        return {
            **super().state_dict(),
            "min_penalties": self.min_penalties,
            "calls": self.calls,
            "fired": self.fired,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict`."""
        super().load_state_dict(state)
        self.min_penalties = state["min_penalties"]
        self.calls, self.fired = int(state["calls"]), bool(state["fired"])


class OrbitTuner(PERTuner):
    """`PERTuner`'s rule applied to sample-based (`OrbitPenalty`) terms.

    The values passed to `step` are each group's orbit penalty averaged over the
    epoch's batches, $\\bar R_j = \\mathrm{mean}\\,\\|f(\\rho_{in}(g)x) -
    \\rho_{out}(g)f(x)\\|^2$; at `adjust_at` the strengths become
    $\\lambda_j (\\bar R_{min}/\\bar R_j)^p$, so symmetries the model keeps cheaply
    keep their strength and those the data fight are relaxed. Same arguments and
    state as `PERTuner`.

    Example:
        >>> tuner = OrbitTuner(["O3", "O2x", "O2z"], init=1.0, adjust_at=2, power=1,
        ...                    warmup=0)
        >>> for epoch in range(2):
        ...     tuner.step(epoch, {"O3": 4.0, "O2x": 2.0, "O2z": 1.0})
        >>> tuner.strengths
        {'O3': 0.0, 'O2x': 0.5, 'O2z': 1.0}
    """
