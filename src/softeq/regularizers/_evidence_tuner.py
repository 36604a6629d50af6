"""`EvidenceTuner`: strengths by type-II maximum likelihood of the penalty prior."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..basis import ProjectorStack
from ..groups import Group
from ..nn import soft_layers
from ._tuners import ConstantTuner, on_schedule


def gauss_newton_diagonals(
    model: nn.Module,
    inputs: Tensor,
    *,
    samples: int = 256,
    probes: int = 1,
    generator: torch.Generator | None = None,
) -> list[Tensor]:
    """Per soft layer, an unbiased estimate of the diagonal of the data's
    Gauss-Newton matrix $\\sum_{i=1}^N J_i^TJ_i$ over the layer's weight (row-major)
    then bias entries ($J_i$: the Jacobian of the model's output at input $i$
    with respect to the layer's parameters).

    Estimated without Jacobians: for Gaussian output probes $z_i \\sim N(0, I)$,
    $E[(\\sum_i J_i^Tz_i)^2] = \\mathrm{diag}\\sum_i J_i^TJ_i$ entrywise, and
    $\\sum_i J_i^Tz_i$ is one backward pass of $\\sum_i z_i \\cdot f(x_i)$. The sum
    runs over `samples` random inputs (all of them if fewer), scaled by
    $N/$`samples`. One probe is noisy entry by entry; its means over blocks of
    hundreds of entries, which is what `EvidenceTuner` uses, are not.

    Args:
        model: A model with `SoftLinear` layers.
        inputs: The training inputs `(N, rep_in.dim)`.
        samples: Inputs per probe.
        probes: Probes averaged (each one backward pass).
        generator: Randomness of the subsample and the probes (CPU).

    Returns:
        One float64 CPU tensor `(out * in + out,)` per soft layer, in
        `soft_layers(model)` order.

    Example:
        A linear layer $Wx + b$ on ten inputs of ones: the diagonal is
        $\\sum_i x_{ik}^2 = 10$ on every weight and $N = 10$ on every bias entry.

        >>> from softeq.groups import get
        >>> from softeq.nn import SoftLinear
        >>> from softeq.reps import parse
        >>> G = [get("O3"), get("O2z")]
        >>> layer = SoftLinear(parse("V", G[0]), parse("V", G[0]), G)
        >>> gen = torch.Generator().manual_seed(0)
        >>> (h,) = gauss_newton_diagonals(layer, torch.ones(10, 3), probes=400,
        ...                               generator=gen)
        >>> h.shape, abs(float(h.mean()) - 10.0) < 1.0
        (torch.Size([12]), True)
    """
    layers = soft_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no SoftLinear layer")
    n = len(inputs)
    if n == 0 or probes < 1 or samples < 1:
        raise ValueError(
            f"need inputs, probes >= 1 and samples >= 1; got {n} inputs, "
            f"probes={probes}, samples={samples}"
        )
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    sums = [
        torch.zeros(layer.weight.numel() + layer.bias.numel(), dtype=torch.float64)
        for layer in layers
    ]
    with torch.enable_grad():
        for _ in range(probes):
            pick = torch.randperm(n, generator=generator)[:samples]
            out = model(inputs[pick.to(inputs.device)])
            z = torch.randn(out.shape, generator=generator, dtype=out.dtype)
            grads = torch.autograd.grad((out * z.to(out.device)).sum(), params)
            for k, total in enumerate(sums):
                gw, gb = grads[2 * k], grads[2 * k + 1]
                total += torch.cat([gw.reshape(-1), gb]).to("cpu", torch.float64) ** 2
    scale = n / min(samples, n) / probes
    return [total * scale for total in sums]


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

    The Laplace approximation of the evidence at the trained weights $w$, with
    the data's Gauss-Newton curvature $H = \\sigma^{-2}\\sum_i J_i^TJ_i$, is
    $\\log Z = -\\beta\\,\\mathrm{MSE} - \\tfrac12 w^T\\Lambda w
    + \\tfrac12\\log\\det\\Lambda - \\tfrac12\\log\\det(\\Lambda + H)$. Setting
    $\\partial\\log Z/\\partial\\lambda_j = 0$ (MacKay's type-II maximum likelihood)
    gives the fixed point

    $T_j := \\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I - P_j))
    - \\tfrac12\\mathrm{tr}((\\Lambda + H)^{-1}(I - P_j))
    = R_j = \\tfrac12\\|(I-P_j)w\\|^2$

    summed over layers. $2\\lambda_jT_j = \\gamma_j$ counts the directions off
    group j's equivariant maps that the data determine, so $\\lambda_j =
    \\gamma_j / \\|(I-P_j)w\\|^2$: a residual the data do not ask for drives the
    strength up; one they need keeps it small. Without $H$ (the limit of
    infinitely informative data) every off-group direction would count, and the
    strengths of overparameterised networks run away.

    $H$ is taken isotropic on each layer's blocks of one type pair, $h I$, with $h$
    the mean of its diagonal there (`gauss_newton_diagonals`: one probe on
    `samples` training inputs per update). Then both traces are exact: there
    $\\Lambda + hI$ is the prior with $\\alpha + h$, block-diagonal per copy pair
    (`softeq.basis.ProjectorStack.evidence_traces`).
    From epoch `start` on, every `every` epochs, the tuner takes one damped
    fixed-point step in log space,
    $\\log\\lambda_j \\mathrel{+}= \\eta(\\log T_j - \\log R_j)$.
    The approximation holds at trained weights: before the penalties have
    pulled the weights in, $R_j$ is the initialisation's residual, which the
    fixed point reads as a residual the data ask for. Trainers start it where
    PER's tuner rescales (`TrainConfig.adjust_at`, epoch 200 of the converged
    preset): started at epoch 10 instead, on the inertia settings it cut every
    strength from 100 to about 0.03 at its first update, alike for every group,
    and PER with it scored like the unregularised network
    (results/evidence-tuner-from-epoch-10).

    The largest group `groups[0]` keeps strength 0 unless `tune_largest`, as in
    PER: when the other candidates generate it (O3 from O2x, O2y, O2z; SO3xScale3
    from SO3 and Scale3) its equivariant maps are exactly the maps equivariant for
    all of them, so its penalty only repeats theirs, and a precision that repeats
    others leaves the evidence maximum poorly determined: strengths can be traded
    between the largest group and its subgroups. On the 7 inertia settings
    (`benchmarks/bench_discovery.py`, fast preset, 3 seeds) tuning it too gave a
    worse test MSE than PER's tuner on 5 settings; keeping it at 0 gives a better
    one on all 7. Pass ``tune_largest=True`` when the other candidates do not
    generate the largest (e.g. candidates O3 and O2z only). With one candidate it
    is always tuned.

    Args:
        groups: Candidate groups or their names, the largest first.
        init: Initial strength $s_j$ (> 0) of every group.
        weight_decay: The run's $wd$ (> 0 unless every strength stays > 0).
        n_targets: $N d_{out}$, the number of training target values.
        every: Epochs between updates.
        start: The 1-based epoch of the first update (default `every`).
        damping: $\\eta \\in (0, 1]$.
        bounds: Strengths are clipped to this range.
        samples: Training inputs of each curvature probe.
        seed: Seeds the probes (update k uses `seed + k`: resumable).
        tune_largest: Give `groups[0]` a tuned strength of its own.

    Example:
        >>> tuner = EvidenceTuner(["O3", "O2x", "O2z"], init=1.0, weight_decay=1e-4,
        ...                       n_targets=9000)
        >>> tuner.strengths
        {'O3': 0.0, 'O2x': 1.0, 'O2z': 1.0}
        >>> EvidenceTuner(["O3", "O2z"], init=1.0, weight_decay=1e-4, n_targets=9000,
        ...               tune_largest=True).strengths
        {'O3': 1.0, 'O2z': 1.0}
    """

    def __init__(
        self,
        groups: Sequence[str | Group],
        init: float = 1.0,
        *,
        weight_decay: float,
        n_targets: int,
        every: int = 10,
        damping: float = 0.5,
        bounds: tuple[float, float] = (1e-8, 1e8),
        samples: int = 64,
        seed: int = 0,
        tune_largest: bool = False,
        start: int | None = None,
    ) -> None:
        if init <= 0:
            raise ValueError(f"EvidenceTuner needs init > 0 (log space), got {init}")
        if not 0 < damping <= 1 or every < 1 or n_targets < 1 or weight_decay < 0:
            raise ValueError(
                "need 0 < damping <= 1, every >= 1, n_targets >= 1, weight_decay >= 0; "
                f"got {damping}, {every}, {n_targets}, {weight_decay}"
            )
        if samples < 1:
            raise ValueError(f"EvidenceTuner needs samples >= 1, got {samples}")
        start = every if start is None else start
        if start < 1:
            raise ValueError(f"EvidenceTuner needs start >= 1 (1-based), got {start}")
        super().__init__(groups, init, largest=init if tune_largest else 0.0)
        #: The groups whose strengths the tuner moves.
        self.tuned = [g for g in self.groups if self.strengths[g] > 0]
        self.weight_decay, self.n_targets = weight_decay, n_targets
        self.every, self.damping, self.bounds = every, damping, bounds
        self.start = start
        self.samples, self.seed = samples, seed
        self.updates = 0
        self._diagnostics: dict[str, float] = {}
        self._stacked: (
            tuple[list[nn.Module], list[tuple[ProjectorStack, list[int]]]] | None
        ) = None

    def curvature(
        self, model: nn.Module, inputs: Tensor, train_mse: float
    ) -> list[Tensor]:
        """Per soft layer, the diagonal of $H$ in prior units:
        `gauss_newton_diagonals` over $\\sigma^2$ = `train_mse`, from this
        update's seeded probe."""
        gen = torch.Generator().manual_seed(self.seed + self.updates)
        diagonals = gauss_newton_diagonals(
            model, inputs, samples=self.samples, generator=gen
        )
        return [d / max(float(train_mse), 1e-12) for d in diagonals]

    def traces(
        self, model: nn.Module, beta: float, curvature: Sequence[Tensor] | None = None
    ) -> dict[str, float]:
        """$T_j$ summed over the model's soft layers at the current strengths
        (prior units $\\lambda = \\beta s$), with `curvature` the per-layer
        diagonals of $H$ (`curvature()`); without them, the prior term alone,
        $\\tfrac12\\mathrm{tr}(\\Lambda^{-1}(I-P_j))$."""
        layers = soft_layers(model)
        if curvature is not None and len(curvature) != len(layers):
            raise ValueError(
                f"expected {len(layers)} curvature diagonals, got {len(curvature)}"
            )
        alpha = beta * self.weight_decay
        parts = self._parts(model)
        total = {g: 0.0 for g in self.groups}
        for part, which in parts:
            names = [g.name for g in part.groups]
            lam = self._lambdas(names, beta)
            if curvature is None:
                values = part.prior_traces(lam, alpha)
            else:
                values = part.evidence_traces(lam, alpha, [curvature[k] for k in which])
            for name, value in zip(names, values.tolist(), strict=True):
                total[name] += value
        return total

    def _lambdas(self, names: list[str], beta: float) -> Tensor:
        values = [beta * self.strengths[n] for n in names]
        return torch.tensor(values, dtype=torch.float64)

    def _parts(self, model: nn.Module) -> list[tuple[ProjectorStack, list[int]]]:
        """The model's soft layers as `ProjectorStack`s with the layers each
        holds (cached per model): one stack when they all have the same
        candidates, else one per layer."""
        layers = soft_layers(model)
        cached = self._stacked
        if (
            cached is None
            or len(cached[0]) != len(layers)
            or any(a is not b for a, b in zip(cached[0], layers, strict=True))
        ):
            names = {tuple(g.name for g in layer.groups) for layer in layers}
            if len(names) == 1:
                parts = [
                    (
                        ProjectorStack([layer.projectors for layer in layers]),
                        list(range(len(layers))),
                    )
                ]
            else:
                parts = [
                    (ProjectorStack([layer.projectors]), [k])
                    for k, layer in enumerate(layers)
                ]
            self._stacked = (layers, parts)
        return self._stacked[1]

    def step(
        self,
        epoch: int,
        penalties: Mapping[str, float | Tensor],
        model: nn.Module | None = None,
        *,
        train_mse: float | Tensor | None = None,
        inputs: Tensor | None = None,
        **info: Any,
    ) -> None:
        """From epoch `start` (1-based) on, every `every` epochs, one damped
        fixed-point step towards $T_j = R_j$.

        Args:
            epoch: 0-based epoch just finished.
            penalties: $R_j$ summed over layers, numbers or scalar tensors
                (detached inside; ``exact=True`` values are the most accurate).
            model: The model whose soft layers define the prior.
            train_mse: The epoch's training MSE (estimates $\\sigma^2$); a
                number or a scalar tensor.
            inputs: The training inputs (for the data curvature).
        """
        values = self._read(epoch, penalties)
        self._diagnostics = {}
        if not self.updates_at(epoch):
            return
        if model is None or train_mse is None or inputs is None:
            raise ValueError("EvidenceTuner.step needs the model, train_mse and inputs")
        if isinstance(train_mse, Tensor):
            train_mse = train_mse.detach().item()
        beta = self.n_targets / (2 * max(float(train_mse), 1e-12))
        T = self.traces(model, beta, self.curvature(model, inputs, train_mse))
        self._diagnostics = {"noise": float(train_mse)}
        low, high = self.bounds
        for g in self.tuned:
            # gamma_j = 2 lambda_j T_j at the strength before this update
            self._diagnostics[f"determined/{g}"] = 2 * beta * self.strengths[g] * T[g]
            R = max(values[g], 1e-300)
            t = max(T[g], 1e-300)
            log_s = math.log(self.strengths[g]) + self.damping * math.log(t / R)
            self.strengths[g] = min(max(math.exp(log_s), low), high)
        self.updates += 1

    def reads_penalties(self, epoch: int) -> bool:
        """True only at the epochs where `step` updates (`updates_at`): the
        penalties of the others change nothing, so a trainer may skip their exact
        pass (it still logs them every `softeq.train.RESIDUAL_EVERY` epochs)."""
        return self.updates_at(epoch)

    def updates_at(self, epoch: int) -> bool:
        """Whether `step` at this 0-based epoch updates the strengths.

        Example:
            >>> tuner = EvidenceTuner(["O3", "O2z"], weight_decay=1e-4,
            ...                       n_targets=9000, every=10, start=200)
            >>> [e + 1 for e in range(240) if tuner.updates_at(e)]
            [200, 210, 220, 230, 240]
        """
        return on_schedule(epoch, self.start, self.every)

    def diagnostics(self) -> dict[str, float]:
        """After an updating `step`: ``noise``, the likelihood's noise variance
        $\\sigma^2$ (the training MSE), and per tuned group ``determined/<name>``,
        $\\gamma_j = 2\\lambda_jT_j$, how many directions off the group's
        equivariant maps the data determine (before the update; the fixed point
        sets $\\lambda_j = \\gamma_j / \\|(I-P_j)w\\|^2$). Empty after a step that
        did not update.

        How to read them: a noise variance that collapses towards 0 (a network
        that interpolates noiseless targets) makes every direction look
        determined and sends the strengths down; $\\gamma_j$ that stays large
        while the residual shrinks sends strength $j$ up."""
        return dict(self._diagnostics)

    def state_dict(self) -> dict[str, Any]:
        """Strengths and the number of updates."""
        return {**super().state_dict(), "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict`."""
        super().load_state_dict(state)
        self.updates = int(state["updates"])
