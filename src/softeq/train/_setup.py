"""Build the model, parameter groups and penalty of a run from its config."""

from __future__ import annotations

import torch
from torch import nn

from ..data import Task
from ..groups import get
from ..nn import (
    EquivariantLinear,
    RPPGatedNonlinearity,
    RPPLinear,
    SoftLinear,
    Standardize,
)
from ..nn.models import MLP, build
from ..regularizers import (
    ConstantTuner,
    EvidenceTuner,
    GroupAugmentation,
    OrbitPenalty,
    OrbitTuner,
    PERTuner,
    ProjectionPenalty,
)
from ._breaking_tuner import BreakingTuner
from ._config import TrainConfig


def exact_subgroup(task: Task) -> str | None:
    """The task's symmetry: its first candidate if that holds exactly, else the
    first other candidate that does, else None."""
    if task.truth.get(task.groups[0]) == "exact":
        return task.groups[0]
    return next((g for g in task.groups[1:] if task.truth.get(g) == "exact"), None)


def build_model(
    config: TrainConfig, task: Task, generator: torch.Generator
) -> nn.Module:
    """The model named by `config.model`, for the task's reps and candidates,
    wrapped in `Standardize` when the task has a `Standardization` and
    `config.standardize` is set."""
    model = _bare_model(config, task, generator)
    stats = task.standardization
    if not config.standardize or stats is None:
        return model
    rep_in, rep_out = task.reps()
    return Standardize(model, stats.x_scale, stats.y_mean, stats.y_scale,
                       d_in=rep_in.dim, d_out=rep_out.dim)  # fmt: skip


def _bare_model(
    config: TrainConfig, task: Task, generator: torch.Generator
) -> nn.Module:
    if config.model == "custom":
        raise ValueError(
            "model 'custom' names a model passed to Trainer(model=...); it cannot "
            "be built from a config"
        )
    rep_in, rep_out = task.reps()
    if config.nonlinear_group is not None and config.model not in ("per", "emlp"):
        raise ValueError(
            f"nonlinear_group applies to the models 'per' and 'emlp', not "
            f"{config.model!r}"
        )
    common = dict(ch=config.ch, num_layers=config.num_layers, generator=generator)
    if config.model in ("mlp", "mlp-aug", "mlp-orbit"):
        mlp = MLP(rep_in, rep_out, **common)
        if config.model != "mlp-aug":
            return mlp
        group = get(config.group or exact_subgroup(task) or task.groups[0])
        return GroupAugmentation(mlp, group, rep_in, rep_out, generator=generator)
    common.update(allocation=config.allocation, gate=config.gate)
    if config.nonlinear_group is not None:
        common["nonlinear_group"] = get(config.nonlinear_group)
    if config.model == "emlp":
        group = config.group or exact_subgroup(task) or task.groups[0]
        return build("emlp", rep_in, rep_out, task.groups, group=group, **common)
    if config.model == "rpp-oracle":
        oracle = config.oracle or next(
            (g for g in task.groups[1:] if task.truth.get(g) == "exact"), None
        )
        if oracle is None:
            raise ValueError(
                f"task {task.name} has no exact subgroup among {task.groups[1:]}: "
                "give rpp-oracle an explicit oracle group"
            )
        return build(
            "rpp-oracle", rep_in, rep_out, task.groups, oracle=oracle, **common
        )
    return build(config.model, rep_in, rep_out, task.groups, **common)


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """Adam parameter groups carrying the reference's decays as L2 gradients.

    Linear maps get $\\tfrac{wd}{2}\\|\\cdot\\|^2$ (gradient $wd\\cdot w$); RPP paths
    and gate paths are decayed without the ½ (gradient $2\\lambda w$), as in the
    reference; everything else (bilinear weights) is not decayed.
    """
    decays: dict[int, float] = {}
    for module in model.modules():
        if isinstance(module, RPPLinear):
            for p in module.equivariant_parameters():
                decays[id(p)] = 2 * config.equiv_wd
            for p in module.free_parameters():
                decays[id(p)] = 2 * config.basic_wd
        elif isinstance(module, RPPGatedNonlinearity):
            decays[id(module.w_gated)] = 2 * config.gated_wd
        elif isinstance(module, SoftLinear | EquivariantLinear | nn.Linear):
            for p in module.parameters(recurse=False):
                decays.setdefault(id(p), config.weight_decay)
    groups: dict[float, list[nn.Parameter]] = {}
    for p in model.parameters():
        groups.setdefault(decays.get(id(p), 0.0), []).append(p)
    return [{"params": ps, "weight_decay": wd} for wd, ps in sorted(groups.items())]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Adam:
    """Adam over `parameter_groups`, fused (one kernel for all parameters) where
    this torch build supports it for the parameters' device, else per-tensor.

    Fused and unfused Adam compute the same update up to float rounding; on the
    CPU the fused one takes about a third of the time for EMLP-shaped models
    (many small parameter tensors).
    """
    groups = parameter_groups(model, config)
    try:
        return torch.optim.Adam(groups, lr=config.lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch, or no fused kernel
        return torch.optim.Adam(groups, lr=config.lr)


def make_penalty(model: nn.Module) -> ProjectionPenalty | None:
    """The projection penalty of a model with soft layers, else None."""
    has_soft = any(isinstance(m, SoftLinear) for m in model.modules())
    return ProjectionPenalty(model) if has_soft else None


def make_orbit_penalty(config: TrainConfig, task: Task, model: nn.Module):
    """The sample-based penalty (4 group elements per input, `orbit_rows` of each
    batch) of ``mlp-orbit``, or of a model without soft layers when
    `config.orbit_penalty` is set; else None."""
    wanted = config.model == "mlp-orbit" or config.orbit_penalty
    if not wanted or make_penalty(model) is not None:
        return None
    rep_in, rep_out = task.reps()
    groups = [get(g) for g in task.groups]
    if config.orbit_rows == 1:  # every row, elements drawn per call
        return OrbitPenalty(model, rep_in, rep_out, groups, n_samples=4)
    return OrbitPenalty(model, rep_in, rep_out, groups, n_samples=4,
                        rows=float(config.orbit_rows), pool=64)  # fmt: skip


def make_tuner(config: TrainConfig, task: Task) -> ConstantTuner:
    """The configured tuner; `config.strength` for every candidate but the largest
    (``"breaking"``: the strength of a group the data respect)."""
    if config.tuner == "breaking":
        rep_in, rep_out = task.reps()
        return BreakingTuner(task.groups, rep_in, rep_out, top=config.strength,
                             start=config.adjust_at, every=config.tuner_every,
                             seed=config.seed)  # fmt: skip
    if config.model == "mlp-orbit" and config.tuner != "constant":
        if config.tuner == "evidence":
            raise ValueError("the evidence tuner needs soft layers: use model 'per'")
        return OrbitTuner(task.groups, init=config.strength, adjust_at=config.adjust_at,
                          power=config.adjust_power)  # fmt: skip
    if config.tuner == "evidence":
        n_targets = task.y_train.numel()
        return EvidenceTuner(task.groups, init=config.strength or 1.0,
                             weight_decay=config.weight_decay, n_targets=n_targets,
                             every=config.tuner_every, start=config.adjust_at,
                             seed=config.seed,
                             tune_largest=config.tune_largest)  # fmt: skip
    if config.tuner == "per":
        return PERTuner(task.groups, init=config.strength, adjust_at=config.adjust_at,
                        power=config.adjust_power)  # fmt: skip
    return ConstantTuner(task.groups, init=config.strength)
