"""The `Task` record: splits, representations, candidate groups and their truth."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from ..groups import get
from ..metrics import (
    BREAKING_THRESHOLDS,
    equivariance_error,
    gaussian_inputs,
    verdict,
)
from ..metrics import true_breaking as _breaking_of
from ..reps import Rep, parse

#: Labels a task may give a candidate group.
TRUTH_LABELS = ("exact", "approximate", "broken", "unknown")
_SPLITS = ("train", "val", "test")
_F64 = torch.float64


@dataclass(frozen=True, eq=False)
class Standardization:
    """Units a model should work in: $x \\oslash s_x$ in, $s_y \\odot f + \\mu_y$ out.

    Built so that standardising keeps every candidate's equivariance: $s_x$ and
    $s_y$ are constant on each copy of a tensor type and $\\mu_y$ is non-zero only
    on scalar outputs (see `softeq.nn.Standardize`).

    Args:
        x_scale: $s_x$, shape `(rep_in.dim,)`, positive.
        y_mean: $\\mu_y$, shape `(rep_out.dim,)`.
        y_scale: $s_y$, shape `(rep_out.dim,)`, positive.
    """

    x_scale: Tensor
    y_mean: Tensor
    y_scale: Tensor


@dataclass(frozen=True, eq=False)
class Task:
    """A regression task with candidate symmetry groups and their known status.

    The target is $y = f(x)$ for a ground-truth $f$ (`true_fn`) that is exactly
    equivariant, approximately equivariant or broken under each candidate group
    $G$: $f(\\rho_{in}(g)x) = \\rho_{out}(g)f(x)$ for all $g \\in G$ when "exact".
    `truth` states which, so that symmetry discovery can be scored.

    Tasks compare by identity (`eq=False`): they hold tensors.

    Args:
        name: Registry spec, e.g. ``"inertia:o2z"``.
        rep_in: Input representation string for `softeq.reps.parse`.
        rep_out: Output representation string.
        groups: Candidate group names (`softeq.groups.get`), largest first.
        truth: One label per candidate: ``"exact"``, ``"approximate"``,
            ``"broken"`` or ``"unknown"`` (user data).
        x_train: Training inputs, float32 `(n_train, rep_in.dim)`.
        y_train: Training targets, float32 `(n_train, rep_out.dim)`.
        x_val: Validation inputs, `(n_val, rep_in.dim)`.
        y_val: Validation targets, `(n_val, rep_out.dim)`.
        x_test: Test inputs, `(n_test, rep_in.dim)`.
        y_test: Test targets, `(n_test, rep_out.dim)`.
        true_fn: Vectorised ground truth mapping `(batch, rep_in.dim)` to
            `(batch, rep_out.dim)` in the input's float dtype; None if unknown.
        metrics: Extra evaluation metrics, or None: maps `(prediction, target)`,
            both `(n, rep_out.dim)` in the task's (possibly normalised) space, to
            ``{name: value}``, e.g. ``{"ade": .., "fde": ..}`` in physical units
            for motion tasks (`MotionMetrics`). The trainer reports each as
            ``test_<name>``.
        standardization: Units the model should work in (`Standardization`),
            or None to use the data's own; the trainer wraps models in
            `softeq.nn.Standardize` with it (`TrainConfig.standardize`).
        true_breaking: The ground truth's breaking per candidate on the test
            inputs (`softeq.metrics.true_breaking`), from which `truth` is
            labelled (`with_measured_truth`); None for hand-labelled or user
            data.

    Raises:
        ValueError: For empty or unknown groups, a `truth` that does not label
            exactly the candidates, or tensors whose shapes disagree with the
            representations or with each other.
    """

    name: str
    rep_in: str
    rep_out: str
    groups: tuple[str, ...]
    truth: dict[str, str]
    x_train: Tensor = field(repr=False)
    y_train: Tensor = field(repr=False)
    x_val: Tensor = field(repr=False)
    y_val: Tensor = field(repr=False)
    x_test: Tensor = field(repr=False)
    y_test: Tensor = field(repr=False)
    true_fn: Callable[[Tensor], Tensor] | None = field(default=None, repr=False)
    metrics: Callable[[Tensor, Tensor], dict[str, float]] | None = field(
        default=None, repr=False
    )
    standardization: Standardization | None = field(default=None, repr=False)
    true_breaking: dict[str, float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "truth", dict(self.truth))
        if not self.groups:
            raise ValueError(f"task {self.name!r}: expected at least one group")
        if set(self.truth) != set(self.groups):
            raise ValueError(
                f"task {self.name!r}: truth must label exactly the groups "
                f"{list(self.groups)}, got keys {sorted(self.truth)}"
            )
        bad = {k: v for k, v in self.truth.items() if v not in TRUTH_LABELS}
        if bad:
            raise ValueError(
                f"task {self.name!r}: truth labels must be one of {TRUTH_LABELS}, "
                f"got {bad}"
            )
        for group_name in self.groups:
            self._check_shapes(*self.reps(group_name))

    def _check_shapes(self, rep_in: Rep, rep_out: Rep) -> None:
        for split in _SPLITS:
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            want_x, want_y = ("n", rep_in.dim), ("n", rep_out.dim)
            if (
                not isinstance(x, Tensor)
                or not isinstance(y, Tensor)
                or x.ndim != 2
                or y.ndim != 2
                or x.shape[0] != y.shape[0]
                or x.shape[1] != rep_in.dim
                or y.shape[1] != rep_out.dim
            ):
                got_x = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
                got_y = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
                raise ValueError(
                    f"task {self.name!r}: {split} split must be x {want_x}, "
                    f"y {want_y} for {rep_in} -> {rep_out} ({rep_in.group.name}), "
                    f"got x {got_x}, y {got_y}"
                )

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of train, validation and test samples."""
        return (len(self.x_train), len(self.x_val), len(self.x_test))

    def reps(self, group_name: str | None = None) -> tuple[Rep, Rep]:
        """Parse `rep_in` and `rep_out` for a group.

        Args:
            group_name: Any registry name; the first candidate if None.

        Returns:
            `(rep_in, rep_out)` bound to that group.

        Raises:
            ValueError: For an unknown group name or a malformed rep string.
        """
        group = get(self.groups[0] if group_name is None else group_name)
        return parse(self.rep_in, group), parse(self.rep_out, group)

    def true_errors(
        self,
        n_inputs: int = 16,
        n_samples: int = 16,
        *,
        generator: torch.Generator | None = None,
        scale: float | None = None,
    ) -> dict[str, float]:
        """Relative equivariance error of `true_fn` for every candidate group.

        For each candidate $G$: `softeq.metrics.equivariance_error` of `true_fn`
        on `n_inputs` standard normal float64 inputs (as the reference measures
        it) with `n_samples` elements of $G$. Near 0 (round-off) for "exact".

        Args:
            n_inputs: Number of Gaussian inputs per group.
            n_samples: Number of group elements per group.
            generator: Source of inputs and elements; a fresh generator seeded
                0 if None, so the result is reproducible.
            scale: Lie-algebra sampling scale; if None, each group's
                `sample_scale` (1 for compact groups, bounded samples at
                `softeq.groups.NONCOMPACT_SAMPLE_SCALE` for non-compact ones).

        Returns:
            `{group_name: error}` in candidate order.

        Raises:
            ValueError: If the task has no `true_fn` (user data).
        """
        if self.true_fn is None:
            raise ValueError(
                f"task {self.name!r} has no true_fn (e.g. data from a file); "
                "true errors need the ground-truth function"
            )
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        errors = {}
        for group_name in self.groups:
            group = get(group_name)
            rep_in, rep_out = self.reps(group_name)
            x = gaussian_inputs(rep_in, n_inputs, generator=generator, dtype=_F64)
            g_scale = scale if scale is not None else group.sample_scale
            errors[group_name] = equivariance_error(
                self.true_fn, rep_in, rep_out, group, x, n_samples,
                generator=generator, scale=g_scale,
            )  # fmt: skip
        return errors

    def describe(self) -> str:
        """One line: name, representations, split sizes and candidate truth (with
        its measured breaking when known)."""
        n_train, n_val, n_test = self.sizes
        measured = self.true_breaking or {}
        truth = ", ".join(
            f"{g}={self.truth[g]}" + (f" ({measured[g]:.3f})" if g in measured else "")
            for g in self.groups
        )
        return (
            f"{self.name}: {self.rep_in} -> {self.rep_out}, "
            f"train/val/test {n_train}/{n_val}/{n_test}, groups {truth}"
        )


def split_pool(
    x: Tensor, y: Tensor, sizes: tuple[int, int, int], generator: torch.Generator
) -> dict[str, Tensor]:
    """Randomly split a pool of samples into train, validation and test.

    Args:
        x: Pooled inputs, shape `(n, d_in)`.
        y: Pooled targets, shape `(n, d_out)`.
        sizes: `(n_train, n_val, n_test)`, summing to at most `n`.
        generator: Source of the permutation.

    Returns:
        `{"x_train": ..., "y_train": ..., "x_val": ..., ...}` as float32.
    """
    perm = torch.randperm(x.shape[0], generator=generator)
    out, start = {}, 0
    for split, size in zip(_SPLITS, sizes, strict=True):
        index = perm[start : start + size]
        out[f"x_{split}"] = x[index].to(torch.float32).contiguous()
        out[f"y_{split}"] = y[index].to(torch.float32).contiguous()
        start += size
    return out


def check_seed(seed: int, who: str) -> int:
    """Return `seed` if it is an int >= 0, else raise a ValueError naming `who`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{who}: seed must be an int >= 0, got {seed!r}")
    return seed


def seeded(seed: int) -> torch.Generator:
    """A fresh CPU `torch.Generator` seeded with `seed`."""
    return torch.Generator().manual_seed(seed)


def targets(true_fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Float64 targets of the float32-rounded inputs, so stored `y` matches
    `true_fn(x)` up to float32 rounding of `y` alone.

    Shape:
        `x`: `(n, d_in)`; returns `(n, d_out)` float64.
    """
    return true_fn(x.to(torch.float32).to(torch.float64))


def copy_rms(rep: Rep, x: Tensor) -> Tensor:
    """Root-mean-square size of each copy of each tensor type, spread over its
    coordinates: one positive number per copy, so that dividing by it commutes
    with $\\rho(g)$ (EMLP's per-vector scale; for a Lorentz vector EMLP's
    $\\sqrt{E|x^T\\eta x|/4}$ equals this RMS, as $|\\eta_{cc}| = 1$).

    Args:
        rep: Layout of the columns of `x` (blocks contiguous).
        x: Samples, shape `(n, rep.dim)`.

    Returns:
        Shape `(rep.dim,)`, each copy's RMS (1 where a copy is all zeros).

    Raises:
        ValueError: For a rep whose blocks are not contiguous (tensor products).
    """
    if rep.index is not None:
        raise ValueError(f"copy_rms needs a rep with contiguous blocks, got {rep}")
    out, start = [], 0
    for mult, ttype in rep.blocks:
        width = ttype.dim(rep.group.d)
        block = x[:, start : start + mult * width].reshape(len(x), mult, width)
        rms = block.double().square().mean((0, 2)).sqrt()
        rms = torch.where(rms > 0, rms, torch.ones_like(rms))
        out.append(rms.repeat_interleave(width))
        start += mult * width
    return torch.cat(out).to(torch.float32)


def emlp_standardization(
    rep_in: Rep, rep_out: Rep, x: Tensor, y: Tensor
) -> Standardization:
    """EMLP's statistics for a task with scalar outputs: inputs divided by each
    copy's RMS (`copy_rms`), targets by their standard deviation after removing
    their mean (Finzi et al. 2021, `datasets.py`, O5Synthetic and
    ParticleInteraction).

    Args:
        rep_in: Input layout.
        rep_out: Output layout; must be scalars (only their mean is invariant).
        x: Training inputs, `(n, rep_in.dim)`.
        y: Training targets, `(n, rep_out.dim)`.

    Raises:
        ValueError: For non-scalar outputs.
    """
    if not rep_out.is_scalar:
        raise ValueError(
            f"emlp_standardization centres outputs, which keeps equivariance only "
            f"for scalar outputs; got rep_out {rep_out}"
        )
    std = y.double().std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return Standardization(
        x_scale=copy_rms(rep_in, x),
        y_mean=y.double().mean(0).to(torch.float32),
        y_scale=std.to(torch.float32),
    )


#: Measured truths by (task name, SHA-256 of the test inputs, elements): a
#: registry task's name fixes its ground truth, so the same test split measures
#: the same numbers and building a task again costs nothing.
_MEASURED: dict[tuple[str, str, int], dict[str, float]] = {}


def with_measured_truth(task: Task, n_samples: int = 32) -> Task:
    """`task` with each candidate's truth measured, not chosen.

    The truth of group $G$ is the breaking of the ground truth $f^*$ on the test
    inputs, $\\mathrm{E}_{x,g}\\|\\rho_{out}(g)^{-1}f^*(\\rho_{in}(g)x) -
    f^*(x)\\|^2 / 2\\,\\mathrm{Var}(y)$ (`softeq.metrics.true_breaking`, the
    statistic of the report's verdicts), labelled with the report's own
    thresholds (`softeq.metrics.BREAKING_THRESHOLDS`): truth and verdict are
    comparable by construction.

    Args:
        task: A task with a `true_fn`.
        n_samples: Group elements per test input (seeded: the labels are
            reproducible).

    Raises:
        ValueError: If the task has no `true_fn`.
    """
    if task.true_fn is None:
        raise ValueError(f"task {task.name!r} has no true_fn to measure its truth")
    digest = hashlib.sha256(task.x_test.double().numpy().tobytes()).hexdigest()
    key = (task.name, digest, n_samples)
    if key not in _MEASURED:
        _MEASURED[key] = {
            name: _breaking_of(
                task.true_fn,
                *task.reps(name),
                get(name),
                task.x_test,
                n_samples=n_samples,
            )  # fmt: skip
            for name in task.groups
        }
    breaking = dict(_MEASURED[key])
    labels = {name: verdict(b, BREAKING_THRESHOLDS) for name, b in breaking.items()}
    return replace(task, truth=labels, true_breaking=breaking)
