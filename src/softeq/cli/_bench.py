"""`softeq bench` (run a suite's grid) and `softeq report` (aggregate a folder)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..bench import (
    EXECUTORS,
    PROTOCOLS,
    SUITES,
    RunSpec,
    estimate_run_seconds,
    make_executor,
    planned_action,
    recorded_only,
    run_grid,
    stale_reason,
    suite_runs,
    typical_run_seconds,
)
from ..bench import write_report as write_bench_report
from ..bench._executors import default_workers


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `softeq bench`."""
    parser.add_argument("suite", help=f"one of: {', '.join(SUITES)}")
    parser.add_argument(
        "--protocol",
        default="converged",
        choices=PROTOCOLS,
        help="converged (default: every run until its validation MSE stops "
        "improving), fast (a smoke test, minutes per run) or paper (reference epochs)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (3)")
    parser.add_argument("--epochs", type=int, help="override the protocol's epochs")
    parser.add_argument("--tasks", help="comma-separated subset of the suite's tasks")
    parser.add_argument("--methods", help="comma-separated subset of its methods")
    parser.add_argument("--executor", default="local", choices=EXECUTORS)
    parser.add_argument("--address", help="Ray cluster address (--executor ray)")
    parser.add_argument(
        "--workers", type=int, help="parallel runs (default: one per core)"
    )
    parser.add_argument("--out", type=Path, help="results folder (results/SUITE)")
    parser.add_argument(
        "--hours",
        type=float,
        help="start no run after this many hours; runs under way finish; the "
        "same command later trains the rest",
    )
    parser.add_argument("--no-report", action="store_true",
                        help="do not write REPORT.md after the grid")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true",
                        help="say which runs would be kept, resumed or trained "
                        "from scratch, and train nothing")  # fmt: skip


def _command(args: argparse.Namespace, out: Path) -> str:
    """The canonical command that regenerates the results (executor-free)."""
    words = ["softeq", "bench", args.suite, "--protocol", args.protocol,
             "--seeds", str(args.seeds)]  # fmt: skip
    for flag in ("epochs", "tasks", "methods"):
        if getattr(args, flag) is not None:
            words += [f"--{flag}", str(getattr(args, flag))]
    return shlex.join([*words, "--out", _portable(out)])


def _portable(out: Path) -> str:
    """`out` relative to the working directory when it lies under it (so the
    recorded command works in any clone), else as given."""
    try:
        return str(out.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(out)


def run_bench(args: argparse.Namespace) -> int:
    specs = suite_runs(args.suite, protocol=args.protocol, seeds=args.seeds,
                       epochs=args.epochs, tasks=_names(args.tasks),
                       methods=_names(args.methods))  # fmt: skip
    out = args.out or Path("results") / args.suite
    if args.dry_run:
        return _dry_run(specs, out, args.workers)
    executor = make_executor(args.executor, workers=args.workers,
                             address=args.address)  # fmt: skip
    if args.hours is not None and not args.hours > 0:
        print(f"error: --hours must be positive, got {args.hours}", file=sys.stderr)
        return 2
    time_limit = None if args.hours is None else 3600 * args.hours
    grid = run_grid(specs, out, executor, progress=True, command=_command(args, out),
                    time_limit=time_limit)  # fmt: skip
    late = f", {len(grid.not_started)} not started (--hours)" * bool(grid.not_started)
    print(f"{args.suite}: {len(grid.ran)} trained, {len(grid.skipped)} already "
          f"finished, {len(grid.failed)} failed{late}, in {out}")  # fmt: skip
    if grid.rechecked:
        same = sum(c.equal for c in grid.rechecked)
        print(f"re-checked {len(grid.rechecked)} runs the folder recorded only in "
              f"runs.jsonl: {same} the same to the bit")  # fmt: skip
        for check in grid.rechecked:
            if not check.equal:
                print(f"  DIFFERS {check.describe()}")
    for r in grid.failed:
        spec = r["spec"]
        run_id = f"{spec['task']} {spec['method']} seed {spec['seed']}"
        print(f"  FAILED {run_id}: {r['error']}", file=sys.stderr)
    if not args.no_report and (grid.ran or grid.skipped):
        print(f"report: {write_bench_report(out)}")
    return 1 if grid.failed else 0


def _dry_run(specs: list[RunSpec], out: Path, workers: int | None = None) -> int:
    """Print what `run_bench` would do with each run, per method, with the time
    each run to train took its task and method in `out` so far and, for a run
    whose stored result no longer counts, why (`stale_reason`); train nothing.
    `workers`: as `--workers` (None: one per core)."""
    n = default_workers() if workers is None else max(workers, 1)
    typical = typical_run_seconds(out) if out.is_dir() else {}
    recorded = recorded_only(specs, out) if out.is_dir() else {}
    actions: dict[str, dict[str, list[RunSpec]]] = {}
    for spec in specs:
        action = planned_action(spec, out)
        actions.setdefault(spec.method, {}).setdefault(action, []).append(spec)
    known, unknown = 0.0, 0
    for method, by_action in actions.items():
        counts = ", ".join(f"{len(ss)} {a}" for a, ss in sorted(by_action.items()))
        print(f"{method}: {counts}")
        for action in ("resume", "train"):
            for spec in by_action.get(action, []):
                seconds, note = estimate_run_seconds(typical, spec.task, spec.method)
                why = stale_reason(spec, out)
                if why is None and spec.run_id in recorded:
                    why = (f"recorded only in runs.jsonl, test MSE "
                           f"{recorded[spec.run_id]['test_mse']:.6g}: training it "
                           "again re-checks that")  # fmt: skip
                why = "" if why is None else f"  [{why}]"
                if seconds is None:
                    unknown += 1
                    print(f"  {action:6} {spec.run_id}{why}")
                else:
                    known += seconds
                    took = f"  (~{_duration(seconds)}{note})"
                    print(f"  {action:6} {spec.run_id}{took}{why}")
    totals = {a: sum(len(b.get(a, [])) for b in actions.values())
              for a in ("keep", "resume", "train")}  # fmt: skip
    print(f"{len(specs)} runs in {out}: {totals['keep']} kept, {totals['resume']} "
          f"resumed, {totals['train']} trained from scratch (dry run)")  # fmt: skip
    todo = totals["resume"] + totals["train"]
    if todo:
        print(f"time: ~{_duration(known)} of one worker for the {todo - unknown} runs "
              f"whose method has finished runs here to go by (the median of its "
              f"runs on the same task, else `estimate_run_seconds`'s scaling of "
              f"its runs on other tasks; a resumed run counts in full), "
              f"~{_duration(known / n)} with {n} worker{'s' * (n != 1)}; "
              f"{unknown} runs have none")  # fmt: skip
    return 0


def _duration(seconds: float) -> str:
    """`seconds` as e.g. ``45 s``, ``17 min`` or ``2.4 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `softeq report`."""
    parser.add_argument("results_dir", type=Path, help="a `softeq bench` folder")


def run_report(args: argparse.Namespace) -> int:
    print(write_bench_report(args.results_dir))
    return 0
