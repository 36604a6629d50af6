"""`build(name, ...)`: every model of the benchmark by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...groups import Group, as_group, as_groups
from ...reps import Rep
from ._base import Model
from ._emlp import EMLP, RPPEMLP, SoftEMLP
from ._mlp import MLP

MODEL_NAMES = ("mlp", "emlp", "rpp", "rpp-oracle", "per")


def build(
    name: str,
    rep_in: Rep,
    rep_out: Rep,
    groups: Sequence[Group | str],
    **cfg: Any,
) -> Model:
    """Build a model by name.

    * ``"mlp"`` — `MLP` (groups unused).
    * ``"emlp"`` — `EMLP` for ``cfg["group"]`` (default: the first group), with
      nonlinearities for ``cfg["nonlinear_group"]`` if given.
    * ``"rpp"`` — `RPPEMLP` for the first group.
    * ``"rpp-oracle"`` — `RPPEMLP` whose free path is projected onto
      ``cfg["oracle"]`` (a group or name; required).
    * ``"per"`` — `SoftEMLP` over all `groups` (largest first).

    Remaining `cfg` entries go to the model (``ch``, ``num_layers``, ``allocation``,
    ``gate``, ``generator``).

    Example:
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> G = get("O3")
        >>> model = build("per", parse("5*V0+5*V", G), parse("V2", G),
        ...               ["O3", "O2x", "O2y", "O2z"])
        >>> model.num_parameters()
        164959
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    groups = as_groups(groups)
    if name == "mlp":
        return MLP(rep_in, rep_out, **cfg)
    if not groups:
        raise ValueError(f"model {name!r} needs at least one group")
    if name == "emlp":
        group = as_group(cfg.pop("group", groups[0]))
        outer = cfg.pop("nonlinear_group", None)
        outer = None if outer is None else as_group(outer)
        return EMLP(rep_in, rep_out, group, nonlinear_group=outer, **cfg)
    if name == "rpp":
        return RPPEMLP(rep_in, rep_out, groups[0], **cfg)
    if name == "rpp-oracle":
        if "oracle" not in cfg:
            raise ValueError(
                "model 'rpp-oracle' needs cfg['oracle'], the true subgroup"
            )
        oracle = as_group(cfg.pop("oracle"))
        return RPPEMLP(rep_in, rep_out, groups[0], free_group=oracle, **cfg)
    return SoftEMLP(rep_in, rep_out, groups, **cfg)
