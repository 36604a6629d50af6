"""`EvidenceTuner`: strengths by type-II maximum likelihood of the penalty prior."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..basis import ProjectorStack, prior_traces
from ._projection import soft_layers
from ._tuners import ConstantTuner


class EvidenceTuner(ConstantTuner):
    """Tune every group's strength from the data, with no hand-set epoch or exponent.

    Read the penalties as a Gaussian prior on each soft layer's weights,
    $p(w) \\propto \\exp(-\\tfrac12 w^T\\Lambda w)$ with
    $\\Lambda = \\sum_j \\lambda_j (I - P_j) + \\alpha I$, and the MSE as a Gaussian
    likelihood of noise variance $\\sigma^2$. The training loss
    $\\mathrm{MSE} + \\sum_j s_j R_j + \\tfrac{wd}{2}\\|w\\|^2$ is the negative
    log posterior divided by $\\beta = N d_{out} / (2\\sigma^2)$, so
    $\\lambda_j = \\beta s_j$ and $\\alpha = \\beta\\,wd$, with $\\sigma^2$ estimated by
    the training MSE.

    Maximising the evidence (MacKay's type-II maximum likelihood, Laplace
    approximation with the penalised curvature only) over $\\lambda_j$ gives
    $\\partial_{\\lambda_j}[\\tfrac12\\log\\det\\Lambda - \\tfrac12 w^T\\Lambda w] = 0$,
    i.e.

    $T_j := \\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I - P_j))
    = R_j = \\tfrac12\\|(I-P_j)w\\|^2$

    summed over layers. Every `every` epochs the tuner takes one damped fixed-point
    step in log space, $\\log\\lambda_j \\mathrel{+}= \\eta(\\log T_j - \\log R_j)$:
    a group whose residual is smaller than the prior expects gets a larger strength.
    $T_j$ is exact: $\\Lambda$ is block-diagonal per copy pair
    (`softeq.basis.prior_traces`).
    Every group, the largest included, gets its own strength.

    Args:
        groups: Candidate group names.
        init: Initial strength $s_j$ (> 0) of every group.
        weight_decay: The run's $wd$ (> 0 unless every strength stays > 0).
        n_targets: $N d_{out}$, the number of training target values.
        every: Epochs between updates.
        damping: $\\eta \\in (0, 1]$.
        bounds: Strengths are clipped to this range.

    Example:
        >>> tuner = EvidenceTuner(["O3", "O2z"], init=1.0, weight_decay=1e-4,
        ...                       n_targets=9000)
        >>> tuner.strengths
        {'O3': 1.0, 'O2z': 1.0}
    """

    def __init__(
        self,
        groups: Sequence[str],
        init: float = 1.0,
        *,
        weight_decay: float,
        n_targets: int,
        every: int = 10,
        damping: float = 0.5,
        bounds: tuple[float, float] = (1e-8, 1e8),
    ) -> None:
        if init <= 0:
            raise ValueError(f"EvidenceTuner needs init > 0 (log space), got {init}")
        if not 0 < damping <= 1 or every < 1 or n_targets < 1 or weight_decay < 0:
            raise ValueError(
                "need 0 < damping <= 1, every >= 1, n_targets >= 1, weight_decay >= 0; "
                f"got {damping}, {every}, {n_targets}, {weight_decay}"
            )
        super().__init__(groups, init, largest=init)
        self.groups = list(groups)
        self.weight_decay, self.n_targets = weight_decay, n_targets
        self.every, self.damping, self.bounds = every, damping, bounds
        self.updates = 0
        self._stacked: tuple[list[nn.Module], ProjectorStack | None] | None = None

    def traces(self, model: nn.Module, beta: float) -> dict[str, float]:
        """$T_j = \\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I-P_j))$ summed over the model's
        soft layers, at the current strengths (in prior units $\\lambda = \\beta s$)."""
        stack = self._stack(model)
        if stack is not None:
            names = [g.name for g in stack.groups]
            lam = torch.tensor(
                [beta * self.strengths[n] for n in names], dtype=torch.float64
            )
            values = stack.prior_traces(lam, beta * self.weight_decay)
            return {g: 0.0 for g in self.groups} | dict(
                zip(names, values.tolist(), strict=True)
            )
        total = {g: 0.0 for g in self.groups}
        for layer in soft_layers(model):
            names = [g.name for g in layer.groups]
            lam = torch.tensor(
                [beta * self.strengths[n] for n in names], dtype=torch.float64
            )
            values = prior_traces(layer.projectors, lam, beta * self.weight_decay)
            for name, value in zip(names, values.tolist(), strict=True):
                total[name] += value
        return total

    def _stack(self, model: nn.Module) -> ProjectorStack | None:
        """The model's soft layers as one `ProjectorStack` (cached per model) when
        they all have the same candidates, else None."""
        layers = soft_layers(model)
        cached = self._stacked
        if (
            cached is None
            or len(cached[0]) != len(layers)
            or any(a is not b for a, b in zip(cached[0], layers, strict=True))
        ):
            names = {tuple(g.name for g in layer.groups) for layer in layers}
            stack = (
                ProjectorStack([layer.projectors for layer in layers])
                if len(names) == 1
                else None
            )
            self._stacked = (layers, stack)
        return self._stacked[1]

    def step(
        self,
        epoch: int,
        penalties: Mapping[str, float],
        model: nn.Module | None = None,
        *,
        train_mse: float | None = None,
    ) -> None:
        """Every `every` epochs, one damped fixed-point step towards $T_j = R_j$.

        Args:
            epoch: 0-based epoch just finished.
            penalties: Exact $R_j$ summed over layers (``exact=True`` values).
            model: The model whose soft layers define the prior.
            train_mse: The epoch's training MSE (estimates $\\sigma^2$).
        """
        if (epoch + 1) % self.every:
            return
        if model is None or train_mse is None:
            raise ValueError("EvidenceTuner.step needs the model and train_mse")
        beta = self.n_targets / (2 * max(float(train_mse), 1e-12))
        T = self.traces(model, beta)
        low, high = self.bounds
        for g in self.groups:
            R = max(float(penalties[g]), 1e-300)
            log_s = math.log(self.strengths[g]) + self.damping * math.log(T[g] / R)
            self.strengths[g] = min(max(math.exp(log_s), low), high)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """Strengths and the number of updates."""
        return {**super().state_dict(), "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict`."""
        super().load_state_dict(state)
        self.updates = int(state["updates"])
