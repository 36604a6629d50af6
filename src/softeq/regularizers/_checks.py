"""Input validation shared by the sample-based regularizers and model wrappers."""

from __future__ import annotations

from torch import Tensor

from ..groups import Group, as_group
from ..reps import Rep


def check_rep(rep: object, name: str, who: str) -> Rep:
    """Return `rep` if it is a softeq `Rep`, else raise naming the argument."""
    if not isinstance(rep, Rep):
        raise ValueError(
            f"{who}: {name} must be a softeq Rep, got {type(rep).__name__}"
        )
    return rep


def check_group(group: object, d: int, who: str) -> Group:
    """Return `group` (a `Group`, or a name resolved with `get`) if it acts on
    $R^d$, else raise."""
    group = as_group(group)
    if group.d != d:
        raise ValueError(
            f"{who}: group {group.name} acts on R^{group.d}, but the representations "
            f"act on R^{d}; every group must have the same d"
        )
    return group


def check_same_d(rep_in: Rep, rep_out: Rep, who: str) -> int:
    """Return the common $d$ of `rep_in` and `rep_out`, or raise."""
    if rep_in.group.d != rep_out.group.d:
        raise ValueError(
            f"{who}: rep_in ({rep_in}, {rep_in.group.name} on R^{rep_in.group.d}) "
            f"and rep_out ({rep_out}, {rep_out.group.name} on R^{rep_out.group.d}) "
            "must act on the same R^d"
        )
    return rep_in.group.d


def check_batch(x: Tensor, rep: Rep, who: str) -> None:
    """Raise unless `x` has shape `(batch, rep.dim)`."""
    if x.ndim != 2 or x.shape[-1] != rep.dim:
        raise ValueError(
            f"{who} expects input of shape (batch, {rep.dim}) for {rep}, "
            f"got {tuple(x.shape)}"
        )


def check_output(y: object, rep: Rep, batch: int, who: str) -> Tensor:
    """Return `y` if it is a tensor of shape `(batch, rep.dim)`, else raise."""
    if not isinstance(y, Tensor) or tuple(y.shape) != (batch, rep.dim):
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(
            f"{who}: the model must map (batch, rep_in.dim) to (batch, {rep.dim}) "
            f"for rep_out {rep}; for batch {batch} it returned {got}"
        )
    return y


def check_wrapper_args(
    model: object, group: object, rep_in: object, rep_out: object, who: str
) -> tuple[Group, Rep, Rep]:
    """Validate the arguments of a model wrapper (a callable model, two reps on one
    $R^d$, a group on it); return the group and the reps re-bound to it."""
    if not callable(model):
        raise ValueError(f"{who}: model must be callable, got {type(model)}")
    rep_in = check_rep(rep_in, "rep_in", who)
    rep_out = check_rep(rep_out, "rep_out", who)
    group = check_group(group, check_same_d(rep_in, rep_out, who), who)
    return group, rep_in.with_group(group), rep_out.with_group(group)
