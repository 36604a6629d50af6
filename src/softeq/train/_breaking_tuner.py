"""`BreakingTuner`: strengths that follow each group's held-out breaking."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..groups import Group, as_groups
from ..metrics import BREAKING_THRESHOLDS, Z_95, symmetry_cost
from ..regularizers import ConstantTuner
from ..regularizers._tuners import on_schedule
from ..reps import Rep


def strength_for_breaking(
    breaking: float, top: float, half: float, drop: float | None = None
) -> float:
    """$s = s_{max}\\,b_{1/2} / (b_{1/2} + \\max(b, 0))$: `top` for a group the
    data respect, half of it at a breaking of `half`, falling as $1/b$ beyond,
    and 0 above `drop` (a broken group's penalty is dropped).

    Example:
        >>> strength_for_breaking(0.0, 10.0, 0.01)
        10.0
        >>> strength_for_breaking(0.01, 10.0, 0.01)
        5.0
        >>> round(strength_for_breaking(0.2, 10.0, 0.01), 3)
        0.476
        >>> strength_for_breaking(0.3, 10.0, 0.01, drop=0.25)
        0.0
    """
    if drop is not None and breaking > drop:
        return 0.0
    return top * half / (half + max(breaking, 0.0))


class BreakingTuner(ConstantTuner):
    """Set each group's strength from what held-out data say about it.

    Every `every` epochs from epoch `start` (1-based), the tuner measures each
    candidate's *breaking* with the current model on held-out data
    (`softeq.metrics.symmetry_cost`: $b_j = (L_{G_j} - L) / 2\\,\\mathrm{Var}(y)$,
    the share of the targets' variance that predicting through a random element
    of $G_j$ adds), takes the lower end of its 95 % interval,
    $b_j^- = b_j - 1.96\\,\\mathrm{se}_j$ (the breaking the data surely show),
    and sets

    $s_j \\leftarrow \\min\\big(s_j,\\;
    s_{max}\\,b_{1/2} / (b_{1/2} + \\max(b_j^-, 0))\\big)$

    (`strength_for_breaking`): a group the data respect ($b_j^- \\le 0$) gets
    `top`, one they break gets a strength that falls as $1/b_j^-$, and one whose
    $b_j^-$ is above `drop` (the report's "broken" threshold) gets 0. Before the
    first reading every strength is 0; `update` takes readings made elsewhere
    (`softeq.fit` passes those of an unpenalised model).

    Why strengths only go down: a model pushed towards $G_j$ fits only the
    $G_j$-symmetric part of the data, and its breaking for $G_j$ then reads 0
    whatever the data (the symmetry report's *constrained* models). A reading
    taken under a penalty is therefore evidence only when it shows breaking;
    a low one never raises a strength the data lowered earlier. Reading the
    interval's lower end keeps noise (an undertrained model's wide intervals)
    from lowering a strength.

    Unlike `PERTuner`'s ratio rule, which at weak strengths reads each group's
    share of the weight space ($R_j$ of a random weight is
    $\\propto 1 - \\mathrm{rank}_j/\\mathrm{dim}$), this rule reads only held-out
    targets: on data with no symmetry every group's breaking is large and every
    strength ends small, whatever the size of its equivariant subspace. Every
    candidate is tuned, the largest included.

    Args:
        groups: Candidate groups (or names), acting on the reps' space.
        rep_in: Input layout.
        rep_out: Output layout.
        top: $s_{max}$, the strength of a group the data respect (> 0).
        start: The 1-based epoch of the first measurement.
        every: Epochs between measurements.
        half: $b_{1/2}$, the breaking at which the strength is halved
            (default: the report's "exact" threshold, 0.01).
        drop: Breaking above which the strength is 0 (default: the report's
            "broken" threshold, 0.25); None never drops.
        n_samples: Group elements per measurement.
        max_inputs: Held-out inputs per measurement, at most.
        seed: Seeds the elements (measurement k uses `seed + k`: resumable).

    Example:
        >>> import torch
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("V", get("O3"))
        >>> tuner = BreakingTuner(["O3", "O2z"], rep, rep, top=10.0, start=1)
        >>> tuner.strengths
        {'O3': 0.0, 'O2z': 0.0}
        >>> x = torch.randn(256, 3, dtype=torch.float64)
        >>> y = x * torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)  # O2z only
        >>> model = lambda v: v * torch.tensor([1.0, 1.0, 3.0], dtype=v.dtype)
        >>> tuner.step(0, {}, model, val=(x, y))
        >>> tuner.strengths["O2z"], tuner.strengths["O3"] < 1.0
        (10.0, True)
    """

    def __init__(
        self,
        groups: Sequence[str | Group],
        rep_in: Rep,
        rep_out: Rep,
        *,
        top: float,
        start: int,
        every: int = 10,
        half: float = BREAKING_THRESHOLDS["exact"],
        drop: float | None = BREAKING_THRESHOLDS["broken"],
        n_samples: int = 8,
        max_inputs: int = 1024,
        seed: int = 0,
    ) -> None:
        who = type(self).__name__
        if not (isinstance(top, int | float) and 0 < top < math.inf):
            raise ValueError(f"{who} needs a finite top > 0, got {top!r}")
        if not (isinstance(half, int | float) and 0 < half < math.inf):
            raise ValueError(f"{who} needs a finite half > 0, got {half!r}")
        counts = (("start", start), ("every", every), ("n_samples", n_samples),
                  ("max_inputs", max_inputs))  # fmt: skip
        for name, value in counts:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{who} needs {name} >= 1, got {value!r}")
        self._groups = as_groups(list(groups))
        super().__init__(self._groups, init=0.0)
        self.rep_in, self.rep_out = rep_in, rep_out
        self.top, self.half, self.drop = float(top), float(half), drop
        self.start, self.every = start, every
        self.n_samples, self.max_inputs, self.seed = n_samples, max_inputs, seed
        self.measurements = 0
        self._diagnostics: dict[str, float] = {}

    def due(self, epoch: int) -> bool:
        """Whether the step after the 0-based `epoch` measures."""
        return on_schedule(epoch, self.start, self.every)

    def reads_penalties(self, epoch: int) -> bool:
        """True at the measuring epochs (`due`), so that a trainer calls `step`
        there; the rule itself reads held-out data, not the penalties."""
        return self.due(epoch)

    def breakings(
        self, model: nn.Module | Any, x: Tensor, y: Tensor
    ) -> dict[str, float]:
        """Each candidate's breaking by `model` on `(x, y)` (its first
        `max_inputs` rows), with this measurement's seeded elements: the lower
        end of its 95 % interval."""
        x, y = x[: self.max_inputs], y[: self.max_inputs]
        out = {}
        training = getattr(model, "training", False)
        if isinstance(model, nn.Module):
            model.eval()
        try:
            for G in self._groups:
                gen = torch.Generator().manual_seed(self.seed + self.measurements)
                cost = symmetry_cost(model, self.rep_in, self.rep_out, G, x, y,
                                     self.n_samples, generator=gen,
                                     scale=G.sample_scale, outside=False)  # fmt: skip
                out[G.name] = float(cost.breaking_interval(Z_95)[0])
        finally:
            if isinstance(model, nn.Module):
                model.train(training)
        return out

    def step(
        self,
        epoch: int,
        penalties: Mapping[str, float | Tensor],
        model: nn.Module | None = None,
        *,
        val: tuple[Tensor, Tensor] | None = None,
        **info: Any,
    ) -> None:
        """At a measuring epoch, read the breakings on `val` and `update`.

        Args:
            epoch: 0-based epoch just finished.
            penalties: The epoch's penalties (unused: the rule reads data).
            model: The model being trained.
            val: Held-out `(inputs, targets)`.
        """
        self._diagnostics = {}
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(
                f"BreakingTuner.step expects a 0-based epoch, got {epoch!r}"
            )
        if not self.due(epoch):
            return
        if model is None or val is None:
            raise ValueError("BreakingTuner.step needs the model and val=(x, y)")
        self.update(self.breakings(model, *val))

    def update(self, readings: Mapping[str, float]) -> None:
        """Apply the rule to one reading per candidate (the breaking's lower
        bound): the first sets the strengths, later ones only lower them.

        Raises:
            ValueError: Unless `readings` holds a finite number for every
                candidate.
        """
        missing = [g for g in self.groups if g not in readings]
        if missing:
            raise ValueError(f"BreakingTuner.update needs a reading for {missing}")
        values = {g: float(readings[g]) for g in self.groups}
        if not all(math.isfinite(v) for v in values.values()):
            raise ValueError(
                f"BreakingTuner.update needs finite readings, got {values}"
            )
        first = self.measurements == 0
        for name, b in values.items():
            target = strength_for_breaking(b, self.top, self.half, self.drop)
            self.strengths[name] = (
                target if first else min(self.strengths[name], target)
            )
            self._diagnostics[f"breaking/{name}"] = b
        self.measurements += 1

    def diagnostics(self) -> dict[str, float]:
        """After a measuring step, ``breaking/<name>`` per candidate (else empty)."""
        return dict(self._diagnostics)

    def state_dict(self) -> dict[str, Any]:
        """Strengths and the number of measurements."""
        return {**super().state_dict(), "measurements": self.measurements}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict`."""
        super().load_state_dict(state)
        self.measurements = int(state["measurements"])
