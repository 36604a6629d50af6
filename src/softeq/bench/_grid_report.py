"""`write_report`: ``RESULTS_DIR/REPORT.md`` with tables, CSV and plots."""

from __future__ import annotations

import json
from pathlib import Path

from .._atomic import write_text_atomic
from ._aggregate import (
    RUNS_FILE,
    SPREAD_METRICS,
    aggregate,
    choice_table,
    cost_table,
    discovery_table,
    load_results,
    main_metric,
    results_table,
    spread_table,
    validation_table,
    verdict_score_table,
    verdict_table,
    wins_table,
    write_csv,
)
from ._anchors import anchor_table
from ._grid import read_grid
from ._references import reference_cells
from ._suites import REFERENCES


def protocol_note(protocol: str) -> list[str]:
    """Lines under a section's title saying what its protocol's numbers mean:
    nothing for ``converged``; for ``fast`` and ``paper``, that they are not
    converged and why."""
    if protocol == "fast":
        return ["*Not converged: the fast preset stops every model at a fixed "
                "budget, so this table ranks methods at that budget, not at their "
                "best (`--protocol converged` trains each until its validation MSE "
                "stops improving).*", ""]  # fmt: skip
    if protocol == "paper":
        return ["*The reference's protocol, not converged: its epochs and cosine "
                "schedule, and for every model selection only after 2·adjust_at "
                "epochs with early stopping (patience 50 on the raw validation "
                "curve) from there, so a model that overfits early is selected "
                "late (`--protocol converged` trains each until its validation MSE "
                "stops improving and selects its best epoch).*", ""]  # fmt: skip
    return []


def _section(rows, cells, root: Path, suite: str, protocol: str) -> list[str]:
    metric = main_metric(cells)
    tag = f"{suite}-{protocol}"
    seeds = sorted({c.n for c in cells if c.method not in REFERENCES}) or [1]
    out = [f"## {suite} ({protocol} protocol)", ""]
    out += protocol_note(protocol)
    out += [f"{metric.replace('_', ' ')}, mean ± sample std over "
            f"{'/'.join(map(str, seeds))} seeds; best per column in bold.", "",
            results_table(cells, metric), ""]  # fmt: skip
    if any(SPREAD_METRICS[0] in c.mean for c in cells):
        out += ["Test MSE without each run's worst 1 % of test points, and in "
                "brackets the share of the test MSE those points carried (a "
                "mean far above this is a few outliers, such as inputs outside "
                "the training range; \"–\": runs that predate the measurement, "
                "`python benchmarks/bench_point_errors.py --runs DIR --write` "
                "measures kept runs):", "", spread_table(cells), ""]  # fmt: skip
    anchors = anchor_table(cells)
    if anchors:
        out += ["Beside the published numbers (EMLP's own results file, "
                "`shared/ANCHORS.md`):", "", anchors, ""]  # fmt: skip
    if _plot(root, f"{tag}-{metric}.png", "plot_metric", cells, metric, tag):
        out += [f"![{metric} per method]({tag}-{metric}.png)", ""]
    out += ["Cost and convergence (where each run stopped and why: `converged` "
            "when its smoothed validation MSE stopped improving, `epoch cap` when "
            "the cap stopped it, `patience` for the reference presets' early "
            "stopping; late gain: median relative drop of validation MSE over the "
            "last quarter of the epochs, near 0 once the curves have flattened):",
            "", cost_table(cells), ""]  # fmt: skip
    if any(c.method.startswith("per") for c in cells):
        out += ["PER against each baseline (Welch |t| < 2 is a tie):", "",
                wins_table(cells, metric), ""]  # fmt: skip
    if any(r.get("choice") for r in rows):
        out += ["What each `softeq.fit` run chose (the candidate with the best "
                "validation MSE; \"(hidden)\": trained with the hidden-layer "
                "prior; share of seeds):", "", choice_table(rows), ""]  # fmt: skip
    if any(r.get("validation") for r in rows):
        out += ["The held-out data's reading of each group a `softeq.fit` run tried "
                "imposing, against the truth (`GroupChoice.validation`: the best "
                "imposed model's validation MSE over the unpenalised model's; "
                "welcomed: below 1; a group that holds only approximately can be "
                "welcomed too, when imposing it costs less than it regularises), "
                "pooled over each method's runs:", "", validation_table(rows),
                ""]  # fmt: skip
    if any(r["strengths"] for r in rows):
        out += [
            "Discovered strengths (mean log10 λ over seeds; the largest "
            "group is never penalised):",
            "",
            discovery_table(rows),
            "",
        ]
        if _plot(root, f"{tag}-strengths.png", "plot_strengths", rows, tag):
            out += [f"![strengths vs truth]({tag}-strengths.png)", ""]
    if any(r.get("verdicts") for r in rows):
        out += ["Symmetry-report verdicts against the truth (most common verdict over "
                "seeds; each run's report as written when it finished, docs/report.md; "
                "`python benchmarks/bench_discovery.py --runs DIR` measures them again "
                "with today's report and scores them):", "",
                verdict_table(rows), "",
                "The same verdicts scored, pooled over each method's runs (decided: "
                "not undetermined; a wrong \"exact\" or \"broken\" is the error a "
                "scientist would publish; ranking: every exact group ranked above "
                "every approximate one, and those above every broken one; "
                "`benchmarks/bench_discovery.py --results DIR` gives them per task):",
                "", verdict_score_table(rows), ""]  # fmt: skip
    return out


def _plot(root: Path, name: str, which: str, *args) -> bool:
    try:
        from . import _plots
    except ImportError:  # pragma: no cover - plots are an optional extra
        return False
    try:
        getattr(_plots, which)(*args[:-1], root / name, args[-1])
    except ImportError:  # matplotlib missing
        return False
    return True


def write_report(root: str | Path) -> Path:
    """Aggregate every finished run under `root` into ``REPORT.md``,
    ``results.csv`` (one line per cell), ``runs.jsonl`` (one line per run) and PNG
    plots (one set per suite and protocol). Runs recorded in an earlier
    ``runs.jsonl`` whose folders are absent stay in (`load_results`).

    Returns:
        The path of ``REPORT.md``.

    Raises:
        ValueError: If `root` holds no finished runs.
    """
    root = Path(root)
    rows = load_results(root)
    cells = aggregate(rows)
    cells += reference_cells(cells)
    write_csv(cells, root / "results.csv")
    # every run, small enough to commit; keys in the order the tables read them
    runs = "".join(json.dumps(r) + "\n" for r in rows)
    write_text_atomic(root / RUNS_FILE, runs)
    lines = ["# softeq benchmark report", ""]
    commands = read_grid(root)["commands"]
    lines += ["Made by:", "", "```", *(commands or ["(the Python API)"]),
              f"softeq report {root}", "```", ""]  # fmt: skip
    keys = list(dict.fromkeys((c.suite, c.protocol) for c in cells))
    for suite, protocol in keys:
        sub_cells = [c for c in cells if (c.suite, c.protocol) == (suite, protocol)]
        sub_rows = [r for r in rows if (r["suite"], r["protocol"]) == (suite, protocol)]
        lines += _section(sub_rows, sub_cells, root, suite, protocol)
    lines += [
        "All numbers: `results.csv` (per cell) and `runs.jsonl` (per run); every "
        "run's folder holds its config, metrics, checkpoint and symmetry report.",
        "",
    ]
    path = root / "REPORT.md"
    write_text_atomic(path, "\n".join(lines))
    return path
