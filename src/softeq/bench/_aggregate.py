"""Aggregate a results folder: mean ± std over seeds, tables, PER's wins and losses.

Only JSON is read (``result.json`` per run, ``runs.jsonl``); nothing in a results
folder is ever unpickled or executed.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._atomic import write_text_atomic
from ..auto import HIDDEN_TAG, imposed_validation
from ..metrics import SPREAD_FIELDS, pooled_score_cells, ranked_entries, score_verdicts
from ._suites import METHODS, REFERENCES
from ._worker import RESULT_FILE, late_gain

#: Metrics a run may report, in order of preference for the main table.
METRICS = ("test_ade", "test_fde", "test_mse")
#: How the test MSE spreads over test points (`softeq.metrics.spread_fields`):
#: the MSE without the worst 1 % of points, the median point's squared error and
#: that 1 %'s share of the MSE. Absent from runs made before they were measured.
SPREAD_METRICS = tuple(f"test_{field}" for field in SPREAD_FIELDS)


def label(method: str) -> str:
    """The table label of a method (or of a reference forecast)."""
    if method in METHODS:
        return METHODS[method][0]
    return REFERENCES.get(method, method)


#: One line per run, written beside ``REPORT.md`` and committed with it.
RUNS_FILE = "runs.jsonl"
#: What names a run in a results folder.
RUN_KEY = ("suite", "protocol", "task", "method", "seed")


def load_results(root: str | Path) -> list[dict[str, Any]]:
    """Every finished run under `root`, flattened to one dict per run.

    A run is read from its folder's ``result.json``; a run with no
    ``result.json`` but a line in the folder's ``runs.jsonl`` is read from that
    line (folders committed before git kept each run's ``result.json`` record
    their runs only there): a grid that adds methods or seeds to such a folder,
    and its report, keep the recorded runs beside the new ones (a run trained
    again replaces its recorded line). Rows come sorted by `RUN_KEY`.

    Raises:
        ValueError: If `root` is not a folder or holds no finished run.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"results folder {root} does not exist")
    rows = {}
    for path in sorted(root.rglob(RESULT_FILE)):
        try:
            result = json.loads(path.read_text())
            row = _flatten(result, path.parent)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a softeq result ({err})") from err
        rows[_key(row)] = row
    for row in recorded_runs(root):
        rows.setdefault(_key(row), row)
    if not rows:
        raise ValueError(f"no finished runs ({RESULT_FILE}, {RUNS_FILE}) in {root}")
    return [rows[k] for k in sorted(rows)]


def typical_run_seconds(root: str | Path) -> dict[tuple[str, str], float]:
    """Median wall-clock seconds of a run, per ``(task, method)`` and per
    ``("*", method)`` (over all its tasks), over the runs under `root` that
    trained from start to finish in one go (a resumed run's time is only its
    last part). For estimates before a grid goes on; empty when `root` holds
    none."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in Path(root).rglob(RESULT_FILE):
        try:
            result = json.loads(path.read_text())
            if not result.get("resumed") and result.get("wall_s") is not None:
                spec, seconds = result["spec"], float(result["wall_s"])
                times[spec["task"], spec["method"]].append(seconds)
                times["*", spec["method"]].append(seconds)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a result this estimate can use; the grid reports it
    return {key: statistics.median(ts) for key, ts in times.items()}


def estimate_run_seconds(
    typical: dict[tuple[str, str], float], task: str, method: str
) -> tuple[float | None, str]:
    """How long a run of `method` on `task` may take, from `typical_run_seconds`'s
    medians, and a note saying what it is read from ("" for the same task).

    The median of the method's runs on `task` when it has any. Otherwise, for
    each other task $u$ where it ran, its median there times how much longer the
    methods that ran on both $u$ and `task` took on `task` (the median over
    them of the ratio of their medians), and the median of those: a task whose
    other methods take 8 times as long makes this one's estimate 8 times as long
    too (its own time on other tasks alone put the orbit-penalised MLP's first
    runs on the planets at 7 min, where nine other methods took 5.5-32 times as
    long as on human motion: scaled, 72 min). Without such a method, the median
    of all its runs; None when it has none.

    Example:
        >>> typical = {("a", "mlp"): 10.0, ("b", "mlp"): 80.0, ("a", "orbit"): 60.0}
        >>> estimate_run_seconds(typical, "b", "orbit")
        (480.0, ', other tasks, scaled by 1 method run on both')
    """
    if (task, method) in typical:
        return typical[task, method], ""
    scaled, methods = [], set()
    for (u, m), seconds in typical.items():
        if m != method or u in ("*", task):
            continue
        ratios = {}
        for (v, other), there in typical.items():
            here = typical.get((task, other))
            if v == u and other != method and here is not None and there > 0:
                ratios[other] = here / there
        if ratios:
            scaled.append(seconds * statistics.median(ratios.values()))
            methods |= set(ratios)
    if scaled:
        n = len(methods)
        note = f", other tasks, scaled by {n} method{'s' * (n != 1)} run on both"
        return statistics.median(scaled), note
    overall = typical.get(("*", method))
    return overall, ("" if overall is None else ", other tasks")


def recorded_runs(root: str | Path) -> list[dict[str, Any]]:
    """The runs that `root`'s ``runs.jsonl`` records (none when it has none).

    Raises:
        ValueError: If a line is not a run's row.
    """
    path = Path(root) / RUNS_FILE
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            _key(row)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: not a run's row ({err})") from err
        rows.append(row)
    return rows


def _key(row: dict[str, Any]) -> tuple:
    return tuple(row[k] for k in RUN_KEY)


def _flatten(result: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    spec, summary = result["spec"], result["summary"]
    row = {k: spec[k] for k in ("suite", "task", "method", "seed", "protocol")}
    row.update(
        {
            m: float(summary[m])
            for m in METRICS + SPREAD_METRICS
            if summary.get(m) is not None
        },
        params=int(summary["num_parameters"]),
        ms_per_step=float(result["ms_per_step"]),
        epochs=int(result["config"]["epochs"]),
        epochs_run=int(summary["epochs_run"]),
        stop_reason=summary.get("stop_reason"),
        late_gain=_late_gain(result, run_dir),
        group=spec["overrides"].get("group") or spec["overrides"].get("oracle"),
        strengths=dict(summary.get("strengths") or {}),
        truth={g: v.get("truth") for g, v in summary["groups"].items()},
        errors={g: v["equivariance_error"] for g, v in summary["groups"].items()},
        breaking={g: v.get("breaking") for g, v in summary["groups"].items()},
        verdicts={
            g: v["verdict"] for g, v in summary["groups"].items() if v.get("verdict")
        },
        choice=fit_choice(summary, spec["overrides"].get("fit_hidden", False)),
        validation=imposed_validation(summary.get("candidates") or {}),
    )
    return row


def fit_choice(summary: dict[str, Any], fit_hidden: object = False) -> str | None:
    """The candidate a `softeq.fit` run chose, as its `Fit.val_mse` key with
    `softeq.auto.HIDDEN_TAG` when that model was trained with the hidden-layer
    prior (e.g. ``"impose+average O2y (hidden)"``); None for other methods.
    `fit_hidden` is the method's `hidden` (its spec's ``fit_hidden``): a record
    from before `Fit.hidden` was stored had the prior on every stage but the
    evidence when it was True (``"choose"`` came with `Fit.hidden`)."""
    chosen = summary.get("chosen")
    if chosen is None:
        return None
    key = chosen if summary.get("imposed") is None else f"{chosen} {summary['imposed']}"
    hidden = summary.get("hidden")
    if hidden is None:
        hidden = chosen != "none" and fit_hidden is True
    return key + HIDDEN_TAG if hidden else key


def _late_gain(result: dict[str, Any], run_dir: Path) -> float | None:
    """From the run's metrics when its folder has them, else as stored in its
    result (a checkout holds ``result.json`` without ``metrics.jsonl``)."""
    gain = late_gain(run_dir)
    return result.get("late_gain") if gain is None else gain


@dataclass(frozen=True)
class Cell:
    """One (suite, protocol, task, method) over its seeds."""

    suite: str
    protocol: str
    task: str
    method: str
    n: int
    mean: dict[str, float]
    std: dict[str, float]
    params: int
    ms_per_step: float
    epochs: int
    group: str | None
    late_gain: float | None
    stopped: tuple[int, ...] = ()
    reasons: tuple[str, ...] = ()


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def aggregate(rows: list[dict[str, Any]]) -> list[Cell]:
    """Group runs by (suite, protocol, task, method); sample std over seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        key = (row["suite"], row["protocol"], row["task"], row["method"])
        groups[key].append(row)
    cells = []
    for (suite, protocol, task, method), rs in groups.items():
        metrics = [m for m in METRICS + SPREAD_METRICS if all(m in r for r in rs)]
        cells.append(Cell(
            suite, protocol, task, method, len(rs),
            mean={m: statistics.fmean(r[m] for r in rs) for m in metrics},
            std={m: _std([r[m] for r in rs]) for m in metrics},
            params=rs[0]["params"],
            ms_per_step=statistics.median(r["ms_per_step"] for r in rs),
            epochs=rs[0]["epochs"], group=rs[0]["group"],
            late_gain=_median([r.get("late_gain") for r in rs]),
            stopped=tuple(r["epochs_run"] for r in rs if "epochs_run" in r),
            reasons=tuple(r.get("stop_reason") or "–" for r in rs),
        ))  # fmt: skip
    return cells


def main_metric(cells: list[Cell]) -> str:
    """The table's metric: ADE when every cell has it (motion), else test MSE."""
    for metric in METRICS:
        if cells and all(metric in c.mean for c in cells):
            return metric
    return "test_mse"


def _ordered(values: list[str], order: list[str]) -> list[str]:
    known = [v for v in order if v in values]
    return known + sorted(v for v in values if v not in order)


def _method_task_table(cells: list[Cell], text: Callable[[Cell], str | None]) -> str:
    """Markdown: one row per method (in `METHODS` order), one column per task;
    `text(cell)` fills a cell, "–" where there is no cell or it gives None."""
    tasks = list(dict.fromkeys(c.task for c in cells))
    methods = _ordered(list({c.method for c in cells}), list(METHODS))
    index = {(c.task, c.method): c for c in cells}
    lines = ["| method | " + " | ".join(tasks) + " |",
             "|---|" + "---|" * len(tasks)]  # fmt: skip
    for m in methods:
        row = [text(index[t, m]) if (t, m) in index else None for t in tasks]
        lines.append(f"| {label(m)} | " + " | ".join(r or "–" for r in row) + " |")
    return "\n".join(lines)


def _most_seeds(cells: list[Cell]) -> dict[str, int]:
    """Per task, the most seeds any of its trained cells has (`REFERENCES`, which
    train nothing, run once)."""
    most: dict[str, int] = {}
    for c in cells:
        most[c.task] = max(most.get(c.task, 1), 1 if c.method in REFERENCES else c.n)
    return most


def _complete(c: Cell, most: dict[str, int]) -> bool:
    """Whether `c` has its column's most seeds (a reference always has)."""
    return c.method in REFERENCES or c.n >= most[c.task]


def _spread(c: Cell, metric: str, most: dict[str, int]) -> str:
    """``mean ± std`` of `metric`; a cell with fewer seeds than its column's most
    says how many (``mean (1 of 3 seeds)`` for one: a single run has no spread)."""
    if _complete(c, most):
        return f"{c.mean[metric]:.3g} ± {c.std[metric]:.2g}"
    spread = "" if c.n == 1 else f" ± {c.std[metric]:.2g}"
    return f"{c.mean[metric]:.3g}{spread} ({c.n} of {most[c.task]} seeds)"


def results_table(cells: list[Cell], metric: str) -> str:
    """Markdown: methods x tasks, ``mean ± std`` of `metric`, best per column bold
    among the cells with the column's most seeds (a cell with fewer says so and is
    never bold)."""
    most = _most_seeds(cells)
    best: dict[str, float] = {}
    for c in cells:
        if metric in c.mean and _complete(c, most):
            best[c.task] = min(best.get(c.task, math.inf), c.mean[metric])

    def text(c: Cell) -> str | None:
        if metric not in c.mean:
            return None
        value = _spread(c, metric, most)
        best_here = _complete(c, most) and c.mean[metric] == best[c.task]
        return f"**{value}**" if best_here else value

    return _method_task_table(cells, text)


def spread_table(cells: list[Cell]) -> str:
    """Markdown: methods x tasks, the test MSE without each run's worst 1 % of
    test points (mean ± std over seeds) and, in brackets, the mean share of the
    MSE those points carried; "–" for cells whose runs predate the measurement."""
    trimmed, share = SPREAD_METRICS[0], SPREAD_METRICS[2]
    most = _most_seeds(cells)

    def text(c: Cell) -> str | None:
        if trimmed not in c.mean or share not in c.mean:
            return None
        return f"{_spread(c, trimmed, most)} ({c.mean[share]:.0%})"

    return _method_task_table(cells, text)


def cost_table(cells: list[Cell]) -> str:
    """Markdown: per method, parameters, median ms/step, the epoch cap, where runs
    stopped (median and range over every run of the method) and why, and the median
    `late_gain` (validation MSE still gained in the last quarter of training)."""
    methods = _ordered(list({c.method for c in cells}), list(METHODS))
    lines = ["| method | parameters | ms/step (median) | epoch cap | stopped at "
             "(median, range) | why (runs) | late gain |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for m in methods:
        cs = [c for c in cells if c.method == m]
        params = sorted({c.params for c in cs})
        shown = f"{params[0]:,}" if len(params) == 1 else (
            f"{params[0]:,}–{params[-1]:,}")  # fmt: skip
        ms = statistics.median(c.ms_per_step for c in cs)
        epochs = sorted({c.epochs for c in cs})
        gain = _median([c.late_gain for c in cs])
        gain_text = "–" if gain is None else f"{gain:.1%}"
        lines.append(f"| {label(m)} | {shown} | {ms:.1f} | "
                     f"{', '.join(map(str, epochs))} | {_stopped(cs)} | "
                     f"{_reasons(cs)} | {gain_text} |")  # fmt: skip
    return "\n".join(lines)


def _stopped(cells: list[Cell]) -> str:
    stops = [e for c in cells for e in c.stopped]
    if not stops:
        return "–"
    return f"{statistics.median(stops):.0f} ({min(stops)}–{max(stops)})"


def _reasons(cells: list[Cell]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for reason in (r for c in cells for r in c.reasons):
        counts[reason] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "–"


def compare(a: Cell, b: Cell, metric: str, threshold: float = 2.0) -> str:
    """``"win"``, ``"tie"`` or ``"loss"`` of `a` against `b` (lower is better).

    A tie when Welch's t statistic $|m_a - m_b| / \\sqrt{s_a^2/n_a + s_b^2/n_b}$ is
    below `threshold` (2: roughly a 95% interval for a handful of seeds).
    """
    diff = a.mean[metric] - b.mean[metric]
    scale = math.sqrt(a.std[metric] ** 2 / a.n + b.std[metric] ** 2 / b.n)
    if abs(diff) <= threshold * scale:
        return "tie"
    return "win" if diff < 0 else "loss"


def _spread_known(c: Cell) -> bool:
    """Whether `c`'s spread over seeds is measured (two seeds or more) or is none
    (a reference, which trains nothing)."""
    return c.n > 1 or c.method in REFERENCES


def wins_table(cells: list[Cell], metric: str, methods=("per", "per-evidence")) -> str:
    """Markdown: wins/ties/losses of each PER variant against every other method,
    on the tasks where both have at least two seeds (or are a reference)."""
    index = {(c.task, c.method): c for c in cells}
    tasks = list(dict.fromkeys(c.task for c in cells))
    others = _ordered(list({c.method for c in cells}), list(METHODS))
    lines = ["| PER variant | against | wins | ties | losses | lost on |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for p in (m for m in methods if any(c.method == m for c in cells)):
        for o in (m for m in others if m != p):
            outcome: dict[str, list[str]] = {"win": [], "tie": [], "loss": []}
            for t in tasks:
                pair = index.get((t, p)), index.get((t, o))
                # one trained run has no spread: Welch's t needs two seeds a side
                # (a reference trains nothing: its one value is exact)
                if pair[0] and pair[1] and all(_spread_known(c) for c in pair):
                    outcome[compare(pair[0], pair[1], metric)].append(t)
            lost = ", ".join(outcome["loss"]) or "–"
            lines.append(
                f"| {label(p)} | {label(o)} | "
                f"{len(outcome['win'])} | {len(outcome['tie'])} | "
                f"{len(outcome['loss'])} | {lost} |"
            )
    return "\n".join(lines)


def _per_group_table(
    rows: list[dict[str, Any]],
    column: Callable[[str], str],
    cell: Callable[[list[dict[str, Any]], str], str],
) -> str:
    """Markdown: one line per task and candidate group with its truth, one column
    per method (headed `column(method)`) holding `cell(method's runs, group)`."""
    methods = _ordered(list({r["method"] for r in rows}), list(METHODS))
    head = " | ".join(column(m) for m in methods)
    lines = [f"| task | group | truth | {head} |",
             "|---|---|---|" + "---|" * len(methods)]  # fmt: skip
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]
        for g, truth in rs[0]["truth"].items():
            cells = [cell([r for r in rs if r["method"] == m], g) for m in methods]
            lines.append(f"| {task} | {g} | {truth} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def discovery_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per task and candidate, truth and mean log10 strength per tuner."""

    def cell(runs: list[dict[str, Any]], g: str) -> str:
        logs = [math.log10(max(r["strengths"][g], 1e-12))
                for r in runs if g in r["strengths"]]  # fmt: skip
        return f"{statistics.fmean(logs):.2f}" if logs else "–"

    per_rows = [r for r in rows if r["strengths"]]
    return _per_group_table(per_rows, lambda m: f"{label(m)}: log10 λ", cell)


def verdict_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per task and candidate, the truth and each method's most common
    symmetry-report verdict with its share of seeds (e.g. ``exact 3/3``)."""

    def cell(runs: list[dict[str, Any]], g: str) -> str:
        said = [r["verdicts"][g] for r in runs if g in r["verdicts"]]
        if not said:
            return "–"
        top = max(set(said), key=said.count)
        return f"{top} {said.count(top)}/{len(said)}"

    return _per_group_table([r for r in rows if r.get("verdicts")], label, cell)


def choice_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per task, what each `softeq.fit` method chose (`fit_choice`),
    with its share of seeds (e.g. ``impose O2z (hidden) 2/3``), most common first."""
    fits = [r for r in rows if r.get("choice")]
    methods = _ordered(list({r["method"] for r in fits}), list(METHODS))
    lines = ["| task | " + " | ".join(label(m) for m in methods) + " |",
             "|---|" + "---|" * len(methods)]  # fmt: skip
    for task in dict.fromkeys(r["task"] for r in fits):
        cells = []
        for m in methods:
            said = [r["choice"] for r in fits if r["task"] == task and r["method"] == m]
            counts = sorted(set(said), key=lambda c: (-said.count(c), c))
            cells.append(", ".join(f"{c} {said.count(c)}/{len(said)}" for c in counts)
                         or "–")  # fmt: skip
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def validation_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per `softeq.fit` method, the held-out data's reading of each
    group its runs tried imposing (`softeq.auto.imposed_validation`: the best
    imposed model's validation MSE over the unpenalised model's; "welcomed"
    below 1) against the truth, pooled over its runs, beside the evidence's
    verdict where the two disagree most: exact groups the evidence read
    broken."""
    pooled: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        truth, verdicts = r.get("truth") or {}, r.get("verdicts") or {}
        for g, ratio in (r.get("validation") or {}).items():
            kinds = [truth.get(g)]
            if truth.get(g) == "exact" and verdicts.get(g) == "broken":
                kinds.append("exact read broken")
            counts = pooled.setdefault(r["method"], {})
            for kind in kinds:
                welcomed, tried = counts.get(kind, [0, 0])
                counts[kind] = [welcomed + (ratio < 1), tried + 1]
    lines = ["| method | groups tried | exact: welcomed | approximate: welcomed "
             "| broken: welcomed | exact the evidence read broken: welcomed |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for method in _ordered(list(pooled), list(METHODS)):
        counts = pooled[method]
        tried = sum(n for k, (_, n) in counts.items() if k != "exact read broken")
        cells = [f"{counts[k][0]}/{counts[k][1]}" if k in counts else "–"
                 for k in ("exact", "approximate", "broken",
                           "exact read broken")]  # fmt: skip
        lines.append(f"| {label(method)} | {tried} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_score_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per method, its runs' symmetry-report verdicts scored against
    the truth and pooled (`softeq.metrics.score_verdicts`): decided, right of
    decided, wrong "exact" and "broken" verdicts, rankings right."""
    scored = {}
    for r in rows:
        truth, verdicts = r.get("truth") or {}, r.get("verdicts") or {}
        entries = ranked_entries(truth, verdicts, r.get("breaking"))
        if entries:
            scored.setdefault(r["method"], []).append(score_verdicts(entries))
    lines = [
        "| method | runs | decided | right (of decided) | wrong exact "
        "| wrong broken | ranking right |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, scores in scored.items():
        cells = " | ".join(pooled_score_cells(scores))
        lines.append(f"| {label(method)} | {cells} |")
    return "\n".join(lines)


def write_csv(cells: list[Cell], path: Path) -> None:
    """Long-format CSV: one line per cell, mean and std of every metric."""
    import csv
    import io

    with io.StringIO(newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["suite", "protocol", "task", "method", "label", "group", "seeds",
                    *[f"{m}_{s}" for m in METRICS + SPREAD_METRICS
                      for s in ("mean", "std")],
                    "parameters", "ms_per_step", "epochs"])  # fmt: skip
        for c in cells:
            values = []
            for m in METRICS + SPREAD_METRICS:
                values += [c.mean.get(m, ""), c.std.get(m, "")]
            name = label(c.method)
            ms = f"{c.ms_per_step:.3f}"
            w.writerow([c.suite, c.protocol, c.task, c.method, name, c.group or "",
                        c.n, *values, c.params, ms, c.epochs])  # fmt: skip
        write_text_atomic(path, fh.getvalue())
