"""Sample-based (orbit) equivariance penalty for any model, one term per group."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..groups import Group, as_groups
from ..reps import Rep
from ._checks import check_batch, check_group, check_output, check_rep, check_same_d


def _check_groups(
    groups: Sequence[Group | str] | Group | str, d: int, who: str
) -> tuple[Group, ...]:
    """Validate a non-empty list of groups (or names) with distinct names, all on
    $R^d$; one group or name counts as a list of one."""
    if isinstance(groups, Group | str):
        groups = [groups]
    groups = tuple(as_groups(groups))
    if not groups:
        raise ValueError(f"{who} needs at least one candidate group, got none")
    for group in groups:
        check_group(group, d, who)
    names = [group.name for group in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"{who}: group names must be distinct, got {names}")
    return groups


class OrbitPenalty(nn.Module):
    """Sampled equivariance penalty of any model $f$, one term per candidate group.

    For each group $G_j$,
    $R_j = E_x E_{g \\sim G_j} \\|f(\\rho_{in}(g)x) - \\rho_{out}(g)f(x)\\|^2$,
    estimated by the mean over the rows of a batch `x` and `n_samples` elements
    sampled per group (the same elements for every row). This is the regularizer
    for models without structured linear maps (GNNs, transformers, plain MLPs;
    REMUL-style). It is vectorised: $f(x)$ once, then one batched call of $f$ on the
    transformed inputs of all groups concatenated.

    Its cost: $f$ runs on $G \\cdot S$ transformed copies of the rows it reads
    ($G$ groups, $S$ = `n_samples`), i.e. 16 times a batch for 4 groups and 4
    samples. With `rows` it reads only a random subset of the batch's rows per
    call, an unbiased estimate of the same $R_j$ (each row is as likely to be
    drawn): ``rows=1/(3*G*S)`` keeps the transformed copies at a third of a
    batch, and with `pool` and `fx` a training step with the penalty costs
    under 1.5 times one without (`benchmarks/bench_orbit.py`). Pass the model's outputs
    `fx` on the batch, computed for the loss anyway, and $f(x)$ is not recomputed.
    Drawing group elements has a fixed cost per call (about 1.5 ms per group on a CPU,
    as much as a forward of 100 rows); with `pool` they are drawn for that many calls at
    once and used in turn.

    `rep_in` and `rep_out` describe a layout; they may be bound to any group acting
    on the same $R^d$ and are re-bound to each candidate with `Rep.with_group`.
    Elements are drawn group by group, in the order of `groups`, from the
    `generator` passed to `forward`.

    `f` is stored but *not* registered as a submodule: the penalty owns no
    parameters or state, so `penalty.parameters()` is empty and checkpoints of the
    model are not duplicated. Gradients still flow to `f`'s parameters.

    Args:
        f: Callable mapping `(batch, rep_in.dim)` to `(batch, rep_out.dim)`.
        rep_in: Input representation (layout).
        rep_out: Output representation (layout).
        groups: Candidate groups (or their registry names) with distinct names,
            all acting on $R^d$.
        n_samples: Group elements sampled per group and call.
        scale: Lie-algebra sampling scale (bound it for non-compact groups).
        rows: Rows of each batch the penalty reads: None for all, a float in
            (0, 1] for that share of them (at least one), an int >= 1 for that
            many (at most the batch). Drawn at random from `forward`'s
            `generator`.
        pool: Calls whose group elements are drawn at once (1: every call
            draws its own). The pool is not part of any state dict: a resumed
            run draws a fresh one.

    Shape:
        Input `x`: `(batch, rep_in.dim)`. Output: `{group.name: scalar tensor}`.

    Example:
        >>> import torch
        >>> from softeq.groups import get
        >>> from softeq.reps import parse
        >>> rep = parse("3*V", get("O3"))
        >>> penalty = OrbitPenalty(lambda x: 2 * x, rep, rep, ["O3", "O2z"])
        >>> terms = penalty(torch.randn(8, 9, dtype=torch.float64))
        >>> sorted(terms), float(terms["O3"]) < 1e-20
        (['O2z', 'O3'], True)
    """

    _f: Callable[[Tensor], Tensor]

    def __init__(
        self,
        f: Callable[[Tensor], Tensor],
        rep_in: Rep,
        rep_out: Rep,
        groups: Sequence[Group | str],
        n_samples: int = 4,
        *,
        scale: float = 1.0,
        rows: int | float | None = None,
        pool: int = 1,
    ) -> None:
        super().__init__()
        who = type(self).__name__
        if not callable(f):
            raise ValueError(f"{who}: f must be callable, got {type(f).__name__}")
        check_rep(rep_in, "rep_in", who)
        check_rep(rep_out, "rep_out", who)
        d = check_same_d(rep_in, rep_out, who)
        if isinstance(n_samples, bool) or not isinstance(n_samples, int):
            raise ValueError(f"{who}: n_samples must be an int, got {n_samples!r}")
        if n_samples < 1:
            raise ValueError(f"{who}: n_samples must be >= 1, got {n_samples}")
        if not scale >= 0:
            raise ValueError(f"{who}: scale must be >= 0, got {scale}")
        self.rows = _check_rows(rows, who)
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1:
            raise ValueError(f"{who}: pool must be an int >= 1, got {pool!r}")
        self.pool = pool
        self._pooled: Tensor | None = None
        self._next = 0
        self._groups = _check_groups(groups, d, who)
        # Bypass nn.Module.__setattr__ so that f is not registered as a submodule.
        object.__setattr__(self, "_f", f)
        self.rep_in, self.rep_out = rep_in, rep_out
        self.n_samples, self.scale = n_samples, float(scale)

    @property
    def f(self) -> Callable[[Tensor], Tensor]:
        """The regularized model."""
        return self._f

    @property
    def groups(self) -> tuple[Group, ...]:
        """The candidate groups, in the order given."""
        return self._groups

    def constraints(self, strengths: Mapping[str, float]) -> list[tuple[Group, str]]:
        """The groups the penalty pulls the model toward, as symmetry-report
        constraints (`softeq.metrics.symmetry_report`'s `constraints`): each group
        whose strength in `strengths` (the tuner's, by group name) is above 0.

        A penalty on the model's outputs makes the model nearly invariant whatever
        the data say, so its breaking for a penalised group, and for any other
        (penalties on O(2)_x and O(2)_y pull toward all of O(3)), is no evidence
        about the data: on the human-motion task the orbit-penalised MLP read
        every group exact where three are broken. The report withholds "exact"
        and "approximate" for such a model, as for augmentation.

        Example:
            >>> from softeq.groups import get
            >>> from softeq.reps import parse
            >>> rep = parse("V", get("O3"))
            >>> penalty = OrbitPenalty(lambda x: x, rep, rep, ["O2z", "O2x"])
            >>> pulls = penalty.constraints({"O2z": 0.3, "O2x": 0.0})
            >>> [(g.name, how) for g, how in pulls]
            [('O2z', 'trained with an orbit penalty toward O2z (strength 0.3)')]
        """
        return [
            (group, f"trained with an orbit penalty toward {group.name} "
                    f"(strength {strengths[group.name]:.3g})")
            for group in self._groups
            if strengths.get(group.name, 0.0) > 0
        ]  # fmt: skip

    def _sample_elements(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """This call's group elements, `(n_groups, n_samples, d, d)`, on `x`'s
        device in the groups' own precision (applied with `Rep.act`, block by
        block, so no `(dim, dim)` matrix is formed)."""
        if self.pool == 1:
            return self._draw(1, generator).to(x.device)
        stale = self._pooled is None or self._pooled.device != x.device
        if stale or self._next == self.pool:
            gs = self._draw(self.pool, generator)
            # (groups, pool * samples, d, d) -> (pool, groups, samples, d, d)
            shape = (len(self._groups), self.pool, self.n_samples, *gs.shape[-2:])
            self._pooled = gs.reshape(shape).transpose(0, 1).contiguous().to(x.device)
            self._next = 0
        k, self._next = self._next, self._next + 1
        return self._pooled[k]

    def _draw(self, calls: int, generator: torch.Generator | None) -> Tensor:
        """Elements for `calls` calls, group by group: `(n_groups, calls *
        n_samples, d, d)`."""
        n = calls * self.n_samples
        return torch.stack([
            group.sample(n, scale=self.scale, generator=generator)
            for group in self._groups
        ])  # fmt: skip

    def forward(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        *,
        fx: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Per-group penalties on the batch `x`.

        Args:
            x: Inputs, shape `(batch, rep_in.dim)`, floating point.
            generator: Source of randomness for the group samples (and for the
                rows read, with `rows`).
            fx: The model's outputs on `x`, `(batch, rep_out.dim)`, if already
                computed (e.g. for the loss); gradients flow through them.

        Returns:
            `{group.name: R_j}`, each a scalar tensor in `x`'s dtype.
        """
        who = type(self).__name__
        check_batch(x, self.rep_in, who)
        if x.shape[0] == 0:
            raise ValueError(
                f"{who} expects a non-empty (batch, {self.rep_in.dim}) input, "
                f"got {tuple(x.shape)}"
            )
        if fx is None:
            fx = self._f(x)
        fx = check_output(fx, self.rep_out, x.shape[0], who)
        picked = self._pick_rows(x.shape[0], generator)
        if picked is not None:
            picked = picked.to(x.device)
            x, fx = x[picked], fx[picked]
        batch, n_groups = x.shape[0], len(self._groups)
        # every group acts on the same R^d: one layout applies them all
        gs = self._sample_elements(x, generator)[:, :, None]  # (G, S, 1, d, d)
        x_g = self.rep_in.act(gs, x)  # (G, S, batch, dim)
        rows = n_groups * self.n_samples * batch
        f_gx = check_output(self._f(x_g.reshape(rows, -1)), self.rep_out, rows, who)
        f_gx = f_gx.reshape(n_groups, self.n_samples, batch, -1)
        g_fx = self.rep_out.act(gs, fx)
        terms = (f_gx - g_fx).square().sum(-1).mean(dim=(1, 2))
        return {group.name: terms[j] for j, group in enumerate(self._groups)}

    def _pick_rows(
        self, batch: int, generator: torch.Generator | None
    ) -> Tensor | None:
        """The rows read this call (a random subset), or None for all of them."""
        if self.rows is None:
            return None
        if isinstance(self.rows, float):
            count = max(1, math.ceil(self.rows * batch))
        else:
            count = self.rows
        if count >= batch:
            return None
        return torch.randperm(batch, generator=generator)[:count]

    def extra_repr(self) -> str:
        names = ", ".join(group.name for group in self._groups)
        rows = "" if self.rows is None else f", rows={self.rows}"
        return (
            f"{self.rep_in} -> {self.rep_out}, groups=[{names}], "
            f"n_samples={self.n_samples}, scale={self.scale}{rows}"
        )


def _check_rows(rows: object, who: str) -> int | float | None:
    """`rows` as given when it is None, an int >= 1 or a float in (0, 1]."""
    if rows is None:
        return None
    if isinstance(rows, bool) or not isinstance(rows, int | float):
        raise ValueError(f"{who}: rows must be None, an int or a float, got {rows!r}")
    if isinstance(rows, int):
        if rows < 1:
            raise ValueError(f"{who}: rows must be >= 1 as a count, got {rows}")
        return rows
    if not 0 < rows <= 1:
        raise ValueError(f"{who}: rows must be in (0, 1] as a share, got {rows}")
    return float(rows)
