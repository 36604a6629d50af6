"""Does the symmetry report find the true symmetries? Scores its verdicts.

Each run's report is scored against the task's *measured* truth (the ground
truth's own breaking under the same thresholds, `softeq.data.with_measured_truth`):

* wrong "exact" / wrong "broken": a verdict of "exact" (or "broken") for a group
  whose truth is something else — the errors a scientist would publish;
* decided: the share of verdicts that are not "undetermined" (undetermined ones
  are counted apart, never as right or wrong);
* right: decided verdicts equal to the truth;
* ranking: runs whose ranking puts every exact group above every approximate one
  and every approximate one above every broken one (by truth).

Targets (issue "verdicts a scientist can trust"): no wrong exact or broken
verdict, at least 90 % decided, ranking right in at least 97 % of runs.

Three ways to get runs:

    # score the runs a grid recorded (`softeq bench`: each run's report at the
    # end of its training, from its committed result.json or runs.jsonl line);
    # no checkpoint and no training
    python benchmarks/bench_discovery.py --results results/per-inertia-converged-500 \
        results/per-cossim-converged-500 --out results/discovery-500
    # re-measure the report of converged runs already on disk (checkpoints of
    # `softeq bench`), with today's report; no training
    python benchmarks/bench_discovery.py --runs results/per-inertia-converged \\
        results/per-cossim-converged results/emlp-synthetic --workers 2 \\
        --out results/discovery
    # or train `softeq discover`'s model (PER) on every PER setting
    python benchmarks/bench_discovery.py --train --preset converged --seeds 3 \\
        --tuners per --out results/discovery-train
    # print the tables of runs scored earlier (several folders pool)
    python benchmarks/bench_discovery.py --table results/discovery

Writes `runs.jsonl` (one scored run per line) and `table.md` into `--out`.
Never asserts.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from softeq.metrics import TRUTH_ORDER, pooled_score_cells, ranked_entries
from softeq.metrics import score_verdicts as score

SETTINGS = [
    f"inertia:{s}" for s in ("o3", "o2x", "o2y", "o2z", "mixed", "broken", "rpp")
]
SETTINGS += [f"cossim:{s}" for s in ("so3-scale", "so3", "scale", "none")]
LABELS = tuple(TRUTH_ORDER)
VERDICTS = (*LABELS, "undetermined")


def reassess(run_dir: str) -> dict:
    """Rebuild a finished run's selected model from its folder and measure its
    symmetry report again (test split, today's `symmetry_report`)."""
    from softeq.train import Trainer, load_checkpoint, load_config

    torch.set_num_threads(1)
    path = Path(run_dir)
    config = load_config(path / "config.toml")
    state = load_checkpoint(path / "checkpoint.pt")
    trainer = Trainer(config, None)
    best = state["best"]
    trainer.model.load_state_dict(best["model"] if best else state["model"])
    if state.get("tuner") and trainer.tuner is not None:
        trainer.tuner.load_state_dict(state["tuner"])
    trainer.epoch = int(state["epoch"])
    summary = trainer.evaluate()
    return _row(trainer.report, summary, method=path.parent.name, source=str(path))


def train(job: tuple[str, str, int, str, int | None]) -> dict:
    """Train `softeq discover`'s model (PER with `tuner`) and score its report."""
    from softeq.train import TrainConfig, Trainer

    task, tuner, seed, preset, epochs = job
    torch.set_num_threads(1)
    cfg = TrainConfig(task=task, model="per", tuner=tuner, seed=seed, preset=preset,
                      epochs=epochs)  # fmt: skip
    trainer = Trainer(cfg, None)
    summary = trainer.fit()
    return _row(trainer.report, summary, method=f"per ({tuner})", source=preset)


def _row(report: dict, summary: dict, *, method: str, source: str) -> dict:
    keys = ("name", "truth", "true_breaking", "verdict", "breaking", "breaking_low",
            "breaking_high", "outside_data", "constrained", "rank",
            "averaged_mse")  # fmt: skip
    groups = [{k: g.get(k) for k in keys} for g in report["groups"]]
    return {"task": summary["task"], "method": method, "seed": summary["seed"],
            "source": source, "test_mse": summary["test_mse"], "groups": groups,
            **score(groups)}  # fmt: skip


def recorded(row: dict, source: str) -> dict | None:
    """A grid's run as its own report judged it at the end of training (a row of
    `softeq.bench.load_results`: truths, verdicts and, for runs recorded since
    grids keep them, breakings), scored as `reassess` scores a re-measured one.

    The report ranks groups by their breaking, so the ranks follow from the
    breakings; a row without them (recorded before) is scored without a
    ranking. None for a run whose report judged no group.
    """
    groups = ranked_entries(row.get("truth") or {}, row.get("verdicts") or {},
                            row.get("breaking"))  # fmt: skip
    if not groups:
        return None
    return {"task": row["task"], "method": row["method"], "seed": row["seed"],
            "source": source, "test_mse": row.get("test_mse"), "groups": groups,
            **score(groups)}  # fmt: skip


def recorded_rows(roots: list[Path]) -> list[dict]:
    """Every run recorded under the grid folders `roots`, scored by `recorded`."""
    from softeq.bench import load_results

    rows = []
    for root in roots:
        for row in load_results(root):
            scored = recorded(row, str(root))
            if scored is not None:
                rows.append(scored)
    return rows


def run_jobs(fn, jobs: list, out: Path, workers: int) -> list[dict]:
    """`fn` over `jobs` in `workers` processes; each row is appended to
    `out/runs.jsonl` as it arrives (a killed grid keeps what finished)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with ProcessPoolExecutor(workers) as pool, (out / "runs.jsonl").open("w") as fh:
        for row in pool.map(fn, jobs):
            rows.append(row)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
    return rows


_HEAD = ("| {first} | runs | decided | right (of decided) | wrong exact "
         "| wrong broken | ranking right |\n|---|---|---|---|---|---|---|")  # fmt: skip


def table(rows: list[dict]) -> str:
    """Markdown: per method, pooled over its runs; then per method and task; then
    each method's truth-by-verdict counts."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [_HEAD.format(first="method")]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(pooled_score_cells(
            [r for r in rows if r["method"] == m])) + " |")  # fmt: skip
    lines += ["", _HEAD.format(first="method / task")]
    for m in methods:
        tasks = list(dict.fromkeys(r["task"] for r in rows if r["method"] == m))
        for t in tasks:
            rs = [r for r in rows if r["method"] == m and r["task"] == t]
            lines.append(f"| {m} / {t} | " + " | ".join(pooled_score_cells(rs)) + " |")
    for m in methods:
        lines += ["", confusion([r for r in rows if r["method"] == m], m)]
    return "\n".join(lines)


def confusion(rows: list[dict], method: str) -> str:
    """Markdown: each group's truth (rows) against its verdict (columns)."""
    counts = {(t, v): 0 for t in LABELS for v in VERDICTS}
    for r in rows:
        for g in r["groups"]:
            if g["truth"] in TRUTH_ORDER:
                counts[g["truth"], g["verdict"]] += 1
    lines = [f"| {method}: truth \\ verdict | " + " | ".join(VERDICTS) + " |",
             "|---|" + "---|" * len(VERDICTS)]  # fmt: skip
    for t in LABELS:
        cells = " | ".join(str(counts[t, v]) for v in VERDICTS)
        lines.append(f"| {t} | {cells} |")
    return "\n".join(lines)


def run_dirs(roots: list[Path]) -> list[str]:
    """Every finished run folder under `roots` (a `checkpoint.pt` next to a
    `summary.json`), sorted."""
    found = sorted({p.parent for root in roots for p in root.rglob("summary.json")})
    return [str(d) for d in found if (d / "checkpoint.pt").is_file()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", metavar="DIR",
                        help="re-measure the runs under these folders")  # fmt: skip
    parser.add_argument("--results", type=Path, nargs="+", metavar="DIR",
                        help="score the runs that these grid folders record, as "
                        "their reports judged them (no checkpoint needed)")  # fmt: skip
    parser.add_argument("--train", action="store_true",
                        help="train PER on every setting instead")  # fmt: skip
    parser.add_argument("--table", type=Path, nargs="+", metavar="DIR",
                        help="print the pooled table of scored runs")  # fmt: skip
    parser.add_argument("--preset", default="converged")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tuners", default="per")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/discovery"))
    args = parser.parse_args()
    modes = (args.runs, args.results, args.table, args.train)
    if sum(x is not None and x is not False for x in modes) != 1:
        parser.error("give exactly one of --runs DIR..., --results DIR..., --train, "
                     "--table DIR...")  # fmt: skip
    if args.table is not None:
        rows = [json.loads(line) for d in args.table
                for line in (d / "runs.jsonl").read_text().splitlines()]  # fmt: skip
        print(table(rows))
        return
    if args.results is not None:
        rows = recorded_rows(args.results)
        if not rows:
            parser.error(f"no run with verdicts under {[str(r) for r in args.results]}")
        args.out.mkdir(parents=True, exist_ok=True)
        with (args.out / "runs.jsonl").open("w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        folders = " ".join(map(str, args.results))
        header = (f"{len(rows)} runs recorded under {folders}, as each run's report "
                  "judged it at the end of training "
                  f"(`python benchmarks/bench_discovery.py --results {folders} "
                  f"--out {args.out}`).")  # fmt: skip
    elif args.runs is not None:
        dirs = run_dirs(args.runs)
        if not dirs:
            parser.error(f"no finished runs under {[str(r) for r in args.runs]}")
        rows = run_jobs(reassess, dirs, args.out, args.workers)
        header = f"Re-measured {len(rows)} runs under {', '.join(map(str, args.runs))}."
    else:
        jobs = [(task, t, s, args.preset, args.epochs)
                for task in args.settings.split(",")
                for t in args.tuners.split(",") for s in range(args.seeds)]  # fmt: skip
        rows = run_jobs(train, jobs, args.out, args.workers)
        header = f"PER trained with preset {args.preset}, {args.seeds} seeds."
    text = header + "\n\n" + table(rows) + "\n"
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
