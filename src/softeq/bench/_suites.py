"""Benchmark suites: named grids of (task x method x seed) and what each method means.

A *method* is a row of a results table: a model, and for PER a tuner, with the
group choices that make it the baseline the paper compares against. Each method is
a rule ``task -> TrainConfig overrides`` that may decline a task it does not apply
to (an oracle needs a known exact subgroup), so a suite never schedules a run that
is bound to fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..auto import Carrier
from ..data import Task, get_task, task_names
from ..groups import get

#: The protocols: the `TrainConfig` presets.
PROTOCOLS = ("converged", "fast", "paper")


def _exact(task: Task) -> list[str]:
    return [g for g in task.groups if task.truth.get(g) == "exact"]


def true_subgroup(task: Task) -> str:
    """The group of the `emlp-true` baseline: the first exact candidate other
    than the largest (e.g. O(2) about the true axis), else the last candidate."""
    exact = [g for g in _exact(task) if g != task.groups[0]]
    return exact[0] if exact else task.groups[-1]


def _oracle(task: Task) -> dict[str, Any] | None:
    exact = [g for g in _exact(task) if g != task.groups[0]]
    return {"model": "rpp-oracle", "oracle": exact[0]} if exact else None


def largest_orthogonal(task: Task) -> str | None:
    """The first (largest) orthogonal candidate of `task`, or None. Orthogonal
    groups have dot products among their invariants, so bilinear layers built
    for one can form non-constant invariants of vectors (SoftEMLP's
    `nonlinear_group`)."""
    return next((g for g in task.groups if get(g).is_orthogonal()), None)


def _orthogonal_nonlinearities(task: Task) -> dict[str, Any] | None:
    """`per-orth`: PER with its nonlinearities built for the largest orthogonal
    candidate; declined where that is the largest candidate (then it is PER)."""
    group = largest_orthogonal(task)
    if group is None or group == task.groups[0]:
        return None
    return {"model": "per", "tuner": "per", "nonlinear_group": group}


def _fit_orthogonal_nonlinearities(task: Task) -> dict[str, Any] | None:
    """`auto-per-orth`: `softeq.fit` with PER's SoftEMLP whose nonlinearities
    are built for the largest orthogonal candidate; declined where that is the
    largest candidate (then it is `auto-per`)."""
    group = largest_orthogonal(task)
    if group is None or group == task.groups[0]:
        return None
    return {"model": "auto", "fit_model": "per", "fit_nonlinear_group": group}


Rule = Callable[[Task], "dict[str, Any] | None"]

#: PER's width in the `per-matched` method. The reference allocation grows in blocks
#: of 108 channels (ch 128: two, 216 channels; ch 256: three), so parameter counts
#: come in steps; three blocks is the count nearest the converged MLP's (width 384):
#: 1.28x on inertia, 1.01x on cossim, 1.13x on motion capture (two blocks: 0.54x,
#: 0.44x, 0.56x; `make test-all` checks the first two).
MATCHED_WIDTH = 256

#: Method name -> (table label, rule giving `TrainConfig` overrides or None).
METHODS: dict[str, tuple[str, Rule]] = {
    "mlp": ("MLP", lambda t: {"model": "mlp"}),
    "mlp-aug": ("MLP + augmentation", lambda t: {"model": "mlp-aug"}),
    "mlp-orbit": ("MLP + orbit penalty", lambda t: {"model": "mlp-orbit"}),
    "emlp-full": ("EMLP (largest group)",
                  lambda t: {"model": "emlp", "group": t.groups[0]}),
    "emlp-true": ("EMLP (true subgroup)",
                  lambda t: {"model": "emlp", "group": true_subgroup(t)}),
    "rpp": ("RPP", lambda t: {"model": "rpp"}),
    "rpp-oracle": ("RPP (oracle subgroup)", _oracle),
    "per": ("PER (PER tuner)", lambda t: {"model": "per", "tuner": "per"}),
    "per-evidence": ("PER (evidence tuner)",
                     lambda t: {"model": "per", "tuner": "evidence"}),
    "per-matched": ("PER at about the MLP's parameter count (ch 256, PER tuner)",
                    lambda t: {"model": "per", "tuner": "per", "ch": MATCHED_WIDTH}),
    "per-prox": ("PER, proximal penalties (PER tuner)",
                 lambda t: {"model": "per", "tuner": "per",
                            "penalty_mode": "proximal"}),
    "per-init": ("PER, started on the largest group's maps (PER tuner)",
                 lambda t: {"model": "per", "tuner": "per", "init": "equivariant"}),
    "per-orth": ("PER, nonlinearities for the largest orthogonal candidate "
                 "(PER tuner)", _orthogonal_nonlinearities),
    # softeq.fit with an MLP, told only the candidates (docs/fit.md)
    "auto": ("softeq.fit (auto, MLP; candidates only)", lambda t: {"model": "auto"}),
    "auto-soft": ("softeq.fit (auto, MLP, with its orbit-penalty soft stage; "
                  "candidates only)",
                  lambda t: {"model": "auto", "fit_soft": True}),
    "auto-soft-tuners": ("softeq.fit (auto, MLP, orbit-penalty soft stage with the "
                         "breaking and PER's tuners chosen on validation; "
                         "candidates only)",
                         lambda t: {"model": "auto", "fit_soft_tuner": "choose"}),
    "auto-per": ("softeq.fit (auto, PER's SoftEMLP, breaking tuner only; "
                 "candidates only)",
                 lambda t: {"model": "auto", "fit_model": "per"}),
    "auto-per-hidden": ("softeq.fit (auto, PER's SoftEMLP, hidden layers on the "
                        "largest group; candidates only)",
                        lambda t: {"model": "auto", "fit_model": "per",
                                   "fit_hidden": True}),
    "auto-per-choose": ("softeq.fit (auto, PER's SoftEMLP, hidden-layer prior "
                        "chosen on validation; candidates only)",
                        lambda t: {"model": "auto", "fit_model": "per",
                                   "fit_hidden": "choose"}),
    "auto-per-tuners": ("softeq.fit (auto, PER's SoftEMLP, soft stage with the "
                        "breaking and PER's tuners chosen on validation; "
                        "candidates only)",
                        lambda t: {"model": "auto", "fit_model": "per",
                                   "fit_soft_tuner": "choose"}),
    "auto-per-orth": ("softeq.fit (auto, PER's SoftEMLP with nonlinearities for "
                      "the largest orthogonal candidate; candidates only)",
                      _fit_orthogonal_nonlinearities),
    "auto-emlp": ("softeq.fit (auto, EMLP layers to impose; candidates only)",
                  lambda t: {"model": "auto", "fit_model": "emlp"}),
    # the three fits above chosen among on validation (`softeq.auto.Carrier`s,
    # `FIT_CARRIERS`): each is the `auto`, `auto-per-tuners` or `auto-per-hidden`
    # run to the bit, so the cell can be checked against theirs
    "auto-carriers": ("softeq.fit choosing its model on validation (MLP, PER's "
                      "SoftEMLP, SoftEMLP with hidden layers on the largest group; "
                      "candidates only)",
                      lambda t: {"model": "auto",
                                 "fit_carriers": "mlp,per-tuners,per-hidden"}),
}  # fmt: skip

#: The models `auto-carriers` chooses among (`softeq.auto.Carrier`), by the
#: name its overrides list them with; each is the fit of the method
#: `CARRIER_METHODS` names, with that method's options (a bench fit without
#: `soft_tuner` trains with the breaking tuner).
FIT_CARRIERS = {
    "mlp": Carrier("mlp", soft_tuner="breaking", label="mlp"),
    "per-tuners": Carrier("per", soft_tuner="choose", label="per-tuners"),
    "per-hidden": Carrier("per", hidden=True, soft_tuner="breaking",
                          label="per-hidden"),
}  # fmt: skip

#: Carrier name -> the bench method whose runs are that carrier's fit, to the bit
#: (`benchmarks/bench_carriers.py` reads `auto-carriers` cells off them).
CARRIER_METHODS = {"mlp": "auto", "per-tuners": "auto-per-tuners",
                   "per-hidden": "auto-per-hidden"}  # fmt: skip

#: Reference forecast name -> table label: rows of motion tables that need no
#: training (computed by `softeq.bench._references.reference_cells`).
REFERENCES = {
    "last-position": "Last position (no training)",
    "constant-velocity": "Constant velocity (no training)",
}

_PER_METHODS = ("mlp", "mlp-aug", "mlp-orbit", "emlp-full", "emlp-true", "rpp",
                "rpp-oracle", "per", "per-matched", "per-evidence", "per-prox",
                "per-init", "per-orth", "auto", "auto-soft", "auto-soft-tuners",
                "auto-per", "auto-per-hidden", "auto-per-choose", "auto-per-tuners",
                "auto-per-orth", "auto-carriers")  # fmt: skip


_MOTION_METHODS = ("mlp", "mlp-aug", "mlp-orbit", "emlp-full", "emlp-true", "rpp",
                   "per", "per-evidence", "auto", "auto-soft",
                   "auto-soft-tuners")  # fmt: skip


def _settings(prefix: str) -> list[str]:
    return [n for n in task_names() if n.startswith(prefix + ":")]


#: Suite name -> (task specs, methods). Task lists are functions so that a suite
#: follows the data registry.
SUITES: dict[str, tuple[Callable[[], list[str]], tuple[str, ...]]] = {
    "per-inertia": (lambda: _settings("inertia"), _PER_METHODS),
    "per-cossim": (lambda: _settings("cossim"), _PER_METHODS),
    "emlp-synthetic": (
        lambda: [
            f"{k}:{n}"
            for k in ("emlp-inertia", "o5-synthetic", "particle-interaction")
            for n in (1000, 3000)
        ],
        ("mlp", "mlp-aug", "emlp-full", "rpp", "auto", "auto-emlp"),
    ),  # fmt: skip
    "motion": (lambda: ["mocap", "orbits", "orbits:rotated"], _MOTION_METHODS),
    # the same grid with targets relative to constant velocity (docs/motion.md)
    "motion-residual": (lambda: ["mocap:residual", "orbits:residual"], _MOTION_METHODS),
}


@dataclass(frozen=True)
class RunSpec:
    """One cell-seed of a grid: what to train, and its folder under the results.

    Args:
        suite: Suite name (for grouping in reports).
        task: Task spec for `softeq.data.get_task`.
        method: Key of `METHODS`.
        seed: Seed of the split, initialisation and batch order.
        protocol: ``"converged"``, ``"fast"`` or ``"paper"`` (the `TrainConfig`
            preset).
        overrides: `TrainConfig` fields set by the method (and by `epochs`).
    """

    suite: str
    task: str
    method: str
    seed: int
    protocol: str
    overrides: tuple[tuple[str, Any], ...]

    @property
    def run_id(self) -> str:
        """Relative run folder, e.g. ``inertia-o2z/per/s0``."""
        return f"{self.task.replace(':', '-')}/{self.method}/s{self.seed}"

    def config_dict(self) -> dict[str, Any]:
        """`TrainConfig` keyword arguments of this run."""
        return {"task": self.task, "seed": self.seed, "preset": self.protocol,
                **dict(self.overrides)}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; `RunSpec.from_dict` inverts it."""
        out = asdict(self)
        out["overrides"] = dict(self.overrides)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Inverse of `to_dict`."""
        return cls(**{**data, "overrides": tuple(sorted(data["overrides"].items()))})


def _check_choice(value: object, choices: list[str] | tuple[str, ...], what: str):
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of: "
                         f"{', '.join(choices)}")  # fmt: skip


def suite_runs(
    suite: str,
    *,
    protocol: str = "converged",
    seeds: int | list[int] = 3,
    epochs: int | None = None,
    tasks: list[str] | None = None,
    methods: list[str] | None = None,
) -> list[RunSpec]:
    """Every run of a suite, task-major, skipping methods that decline a task.

    Args:
        suite: A key of `SUITES` (``per-inertia``, ``per-cossim``,
            ``emlp-synthetic``, ...).
        protocol: ``"converged"`` (default), ``"fast"`` or ``"paper"``.
        seeds: Number of seeds (0..n-1) or an explicit list.
        epochs: Override the protocol's epochs (selection and tuning epochs scale
            with it, see `softeq.train.resolve_config`).
        tasks: Restrict to these task specs of the suite.
        methods: Restrict to these methods of the suite.

    Returns:
        The `RunSpec`s.

    Raises:
        ValueError: For an unknown suite, protocol, task or method, or bad seeds.

    Example:
        >>> runs = suite_runs("per-cossim", seeds=2, methods=["mlp", "per"])
        >>> len(runs), runs[0].run_id
        (16, 'cossim-so3-scale/mlp/s0')
    """
    _check_choice(suite, list(SUITES), "suite")
    _check_choice(protocol, PROTOCOLS, "protocol")
    all_tasks, all_methods = SUITES[suite][0](), SUITES[suite][1]
    for t in tasks or []:
        _check_choice(t, all_tasks, f"task of suite {suite}")
    for m in methods or []:
        _check_choice(m, all_methods, f"method of suite {suite}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list or any(not isinstance(s, int) or s < 0 for s in seed_list):
        raise ValueError(f"seeds must be a count >= 1 or a list of ints >= 0, "
                         f"got {seeds!r}")  # fmt: skip
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    runs = []
    for spec in tasks or all_tasks:
        task = get_task(spec)
        for method in methods or all_methods:
            overrides = METHODS[method][1](task)
            if overrides is None:
                continue
            if epochs is not None:
                overrides = {**overrides, "epochs": epochs}
            items = tuple(sorted(overrides.items()))
            runs += [RunSpec(suite, spec, method, s, protocol, items)
                     for s in seed_list]  # fmt: skip
    return runs
