"""The `softeq` command line: train, eval, discover, fit, bench, report, list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._bench import add_bench_arguments, add_report_arguments, run_bench, run_report
from ._discover import add_discover_arguments, run_discover
from ._fit import add_fit_arguments, run_fit
from ._list import run_list
from ._train import add_train_arguments, run_eval, run_train

EXAMPLES = """examples:
  softeq list
  softeq train --task inertia:o2z --model per --seed 0 --out runs/per
  softeq train --task cossim:so3 --model mlp --preset paper --epochs 500
  softeq train --config my_run.toml --resume
  softeq eval runs/per
  softeq discover data.npz --rep-in "5*V0+5*V" --rep-out V2 --groups O3,O2x,O2y,O2z
  softeq fit data.npz --rep-in "5*V0+5*V" --rep-out V2 --groups O3,O2x,O2y,O2z --out fit
  softeq bench per-inertia --seeds 3 --out results/per-inertia
  softeq bench per-cossim --executor ray --address auto
  softeq report results/per-inertia
"""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of the `softeq` command."""
    parser = argparse.ArgumentParser(
        prog="softeq",
        description="Soft equivariance under mixed symmetries.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    train = sub.add_parser(
        "train", help="train one model on one task", epilog=EXAMPLES,
        formatter_class=raw,
    )  # fmt: skip
    add_train_arguments(train)
    train.set_defaults(run=run_train)
    ev = sub.add_parser("eval", help="re-evaluate the selected model of a run folder")
    ev.add_argument("run_dir", type=Path)
    ev.add_argument(
        "--device", choices=["cpu", "cuda"], default=None,
        help="evaluate on this device instead of the run's (e.g. a GPU run on a CPU)",
    )  # fmt: skip
    ev.set_defaults(run=run_eval)
    disc = sub.add_parser(
        "discover", help="fit PER to your data; print the symmetry report"
    )
    add_discover_arguments(disc)
    disc.set_defaults(run=run_discover)
    fit = sub.add_parser(
        "fit", help="find the symmetries of your data, then use them: a model, "
        "its symmetry report and the plan",
    )  # fmt: skip
    add_fit_arguments(fit)
    fit.set_defaults(run=run_fit)
    bench = sub.add_parser(
        "bench", help="run a benchmark suite (tasks x methods x seeds)"
    )
    add_bench_arguments(bench)
    bench.set_defaults(run=run_bench)
    report = sub.add_parser(
        "report", help="aggregate a results folder into REPORT.md, CSV and plots"
    )
    add_report_arguments(report)
    report.set_defaults(run=run_report)
    ls = sub.add_parser("list", help="list tasks, models and groups")
    ls.add_argument(
        "--truth", action="store_true",
        help="also each synthetic task's measured truth: per candidate, the ground "
        "truth's breaking and its label (builds every task: seconds)",
    )  # fmt: skip
    ls.set_defaults(run=run_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn failures into one `softeq: error:` line.

    Exit codes: 0 success; 2 bad input (a `ValueError`, or a flag argparse
    rejects); 1 a run that failed (non-finite loss, an OS error such as a full
    disk or a missing permission).
    """
    from ..train import NonFiniteLossError

    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:
        code, message = 2, str(err)
    except (NonFiniteLossError, OSError) as err:
        code, message = 1, str(err)
    # one line, whatever the message holds (e.g. a file name with a newline)
    print(f"softeq: error: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
