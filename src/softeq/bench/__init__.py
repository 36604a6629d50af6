"""Benchmark grids: every method against every task, several seeds, one command.

* `suite_runs` -- the runs of a named suite (`SUITES`: ``per-inertia``,
  ``per-cossim``, ``emlp-synthetic``, ...) under a protocol (``converged``,
  ``fast`` or ``paper``);
* `run_grid` -- train them into a results folder with a `LocalExecutor` (process
  pool) or a `RayExecutor`; finished runs are skipped, failures reported, and
  runs the folder recorded only in ``runs.jsonl`` trained again and compared
  with that record (`Recheck`), and runs trained before a change of code that
  applies to them (`REVISIONS`) trained again;
* `write_report` -- ``REPORT.md``, ``results.csv`` and plots: mean ± std over
  seeds, best per column in bold, PER's wins/ties/losses, discovered strengths.

The command line is ``softeq bench SUITE`` and ``softeq report RESULTS_DIR``.

Example:
    >>> from softeq.bench import suite_runs
    >>> runs = suite_runs("per-inertia", seeds=1, tasks=["inertia:broken"])
    >>> [r.method for r in runs]  # doctest: +NORMALIZE_WHITESPACE
    ['mlp', 'mlp-aug', 'mlp-orbit', 'emlp-full', 'emlp-true', 'rpp', 'per',
     'per-matched', 'per-evidence', 'per-prox', 'per-init', 'auto', 'auto-soft',
     'auto-soft-tuners', 'auto-per', 'auto-per-hidden', 'auto-per-choose',
     'auto-per-tuners', 'auto-carriers']
"""

from ._aggregate import (
    aggregate,
    estimate_run_seconds,
    load_results,
    recorded_runs,
    typical_run_seconds,
)
from ._executors import EXECUTORS, LocalExecutor, RayExecutor, make_executor
from ._grid import GridResult, Recheck, recorded_only, run_grid
from ._grid_report import write_report
from ._revisions import REVISIONS, Revision
from ._suites import (
    METHODS,
    PROTOCOLS,
    SUITES,
    RunSpec,
    largest_orthogonal,
    suite_runs,
    true_subgroup,
)
from ._worker import execute, planned_action, stale_reason

__all__ = [
    "EXECUTORS",
    "METHODS",
    "PROTOCOLS",
    "REVISIONS",
    "SUITES",
    "GridResult",
    "LocalExecutor",
    "RayExecutor",
    "Recheck",
    "Revision",
    "RunSpec",
    "aggregate",
    "execute",
    "largest_orthogonal",
    "load_results",
    "recorded_runs",
    "recorded_only",
    "make_executor",
    "planned_action",
    "stale_reason",
    "run_grid",
    "suite_runs",
    "true_subgroup",
    "typical_run_seconds",
    "estimate_run_seconds",
    "write_report",
]
