"""What `fit(soft_tuner="choose")` with an MLP keeps, composed from a grid's
`auto-soft` and `mlp-orbit` runs.

`softeq.fit` on an MLP with ``soft_tuner="choose"`` (bench method
`auto-soft-tuners`) trains the stages of ``soft=True`` (`auto-soft`: the evidence,
the orbit-penalty soft stage with the breaking tuner where the evidence leaves a
strength, the impose stages), each the same model to the bit, plus one more
candidate, ``soft-per``: the MLP with orbit penalties and PER's tuner, which trains
exactly as the `mlp-orbit` baseline does (same data, validation, seed and
stopping; `tests/auto/test_fit.py::test_the_orbit_soft_stage_with_pers_tuner_is_
the_mlp_orbit_baseline`). Validation then keeps the candidate with the lowest MSE.
So its cell can be read off a grid that ran `auto-soft` and `mlp-orbit`, at the
cost of neither stage twice: per task and seed, `mlp-orbit`'s model where its
best validation MSE is below `auto-soft`'s chosen model's, else `auto-soft`'s
(where ``soft-per`` is skipped, below, `auto-soft`'s without an `mlp-orbit` run).

``soft-per`` is skipped, like the breaking tuner's stage, when a group to impose
is called exact (`softeq.auto.soft_stage`); PER's tuner ignores the evidence, so
it is not skipped when every candidate reads broken. From a recorded `auto-soft`
run: its breaking stage ran (so nothing exact is imposed), or no group reads exact
(so nothing exact is imposed either); otherwise a group reads exact, leaves a
strength, and the breaking stage was skipped only because it is imposed: then
``soft-per`` is skipped too and the fit is `auto-soft`'s.

Where the grid also holds `auto-soft-tuners` runs, each is checked against the
composed choice (the same chosen candidate, validation and test MSE to the bit);
the 6 runs on human motion (`results/motion-converged-500`,
`results/motion-residual-converged-500`) agree.

    python benchmarks/bench_soft_tuners.py --results results/motion-converged-500
        [--always-soft-per]

With ``--always-soft-per`` it answers a what-if instead: the cells if ``soft-per``
also trained where an exact group is imposed (today's rule skips it there), which
needs every `mlp-orbit` run.

Prints a Markdown table: per task, the composed test score (MSE; ADE on motion
tasks, as their tables; mean ± sample std over seeds), the candidate each seed
keeps, and the two methods' own scores. Exits 1
on a mismatch with a trained `auto-soft-tuners` run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench_carriers import cell  # the tables' mean ± std (run from benchmarks/)

#: The candidate name of PER's tuner's soft stage in a fit's summary.
SOFT_PER = "soft-per"


def load_runs(root: Path, methods: tuple[str, ...]) -> dict[tuple, dict]:
    """`(method, task, seed)` -> the run's summary, for the finished runs of
    `methods` under a grid folder."""
    runs = {}
    for method in methods:
        for path in sorted(root.glob(f"*/{method}/s*/result.json")):
            record = json.loads(path.read_text())
            summary = record.get("summary") or {}
            if record.get("status") == "failed" or summary.get("val_mse") is None:
                continue
            runs[method, summary["task"], summary["seed"]] = summary
    return runs


def trains_soft_per(fit: dict) -> bool:
    """Whether the fit behind an `auto-soft` summary would have trained the
    ``soft-per`` stage (see the module's docstring)."""
    stages = {h["stage"] for h in fit["history"]}
    reads_exact = any(c.get("verdict") == "exact" for c in fit["plan"])
    return "soft" in stages or not reads_exact


def metric(summary: dict) -> float:
    """The run's test score as its suite's tables give it: ADE on motion tasks,
    else MSE."""
    ade = summary.get("test_ade")
    return summary["test_mse"] if ade is None else ade


def composed(
    fit: dict, orbit: dict | None, *, always: bool = False
) -> tuple[str, float, float] | None:
    """The candidate `fit(soft_tuner="choose")` keeps, its validation MSE and
    test score (`metric`), from an `auto-soft` summary and the `mlp-orbit` run of
    the same task and seed (None when it has not run; only needed where the fit
    would train ``soft-per``); None when that run is needed and missing. With
    `always`, what it would keep if ``soft-per`` trained even where an exact
    group is imposed (a rule `fit` does not have: a what-if, never checked)."""
    if always or trains_soft_per(fit):
        if orbit is None:
            return None
        if orbit["val_mse"] < fit["val_mse"]:
            return SOFT_PER, orbit["val_mse"], metric(orbit)
    return fit["chosen"] or "none", fit["val_mse"], metric(fit)


def check(ran: dict, kept: tuple[str, float, float]) -> str | None:
    """A mismatch between a trained `auto-soft-tuners` run and the composed
    choice, or None."""
    got = (ran["chosen"] or "none", ran["val_mse"], metric(ran))
    return None if got == kept else f"ran {got}, composed {kept}"


def compose(
    runs: dict[tuple, dict], *, always: bool = False
) -> tuple[list[str], list[str], int]:
    """The table's rows, the mismatches and the number of trained
    `auto-soft-tuners` runs checked (`always`: see `composed`; nothing is
    checked then)."""
    tasks = sorted({t for (m, t, _) in runs if m == "auto-soft"})
    lines, mismatches, checked = [], [], 0
    for task in tasks:
        seeds = sorted({s for (m, t, s) in runs if m == "auto-soft" and t == task})
        kept, tests, own = [], [], {"auto-soft": [], "mlp-orbit": []}
        for seed in seeds:
            fit, orbit = (
                runs["auto-soft", task, seed],
                runs.get(("mlp-orbit", task, seed)),
            )
            own["auto-soft"].append(metric(fit))
            if orbit is not None:
                own["mlp-orbit"].append(metric(orbit))
            choice = composed(fit, orbit, always=always)
            if choice is None:
                continue
            kept.append(choice[0])
            tests.append(choice[2])
            ran = runs.get(("auto-soft-tuners", task, seed))
            if ran is not None and not always:
                checked += 1
                if (why := check(ran, choice)) is not None:
                    mismatches.append(f"{task} seed {seed}: {why}")
        orbits = cell(own["mlp-orbit"]) if own["mlp-orbit"] else "–"
        if len(kept) < len(seeds) or not kept:
            lines.append(f"| {task} | `mlp-orbit` has not run every seed it needs | | "
                         f"{cell(own['auto-soft'])} | {orbits} |")  # fmt: skip
            continue
        scores = f"{cell(own['auto-soft'])} | {orbits}"
        lines.append(f"| {task} | {cell(tests)} | {', '.join(kept)} | {scores} |")
    return lines, mismatches, checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, metavar="DIR",
                        help="a grid with auto-soft and mlp-orbit runs")  # fmt: skip
    parser.add_argument("--always-soft-per", action="store_true",
                        help="what if soft-per also trained where an exact group "
                             "is imposed (a what-if: no run is checked)")  # fmt: skip
    args = parser.parse_args()
    runs = load_runs(args.results, ("auto-soft", "mlp-orbit", "auto-soft-tuners"))
    lines, mismatches, checked = compose(runs, always=args.always_soft_per)
    what = "if `soft-per` always trained" if args.always_soft_per else "composed"
    header = [f"| task | `soft_tuner=\"choose\"`, {what} | kept per seed | "
              "`auto-soft` | `mlp-orbit` |", "|---|---|---|---|---|"]  # fmt: skip
    print("\n".join(header + lines))
    print(f"\nchecked against {checked} trained auto-soft-tuners runs: "
          f"{checked - len(mismatches)} the same to the bit")  # fmt: skip
    for line in mismatches:
        print(f"MISMATCH {line}", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
