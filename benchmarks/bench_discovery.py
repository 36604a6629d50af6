"""Does the symmetry report find the true symmetries? PER on every PER task setting.

Grid: 7 inertia + 4 cossim settings x tuners x seeds, SoftEMLP with the given
preset. Per run: test MSE, and agreement of the report with the ground truth:
* ranking: every group whose truth is "exact" is ranked above every "broken" one;
* verdicts: the verdict equals the truth, over groups whose truth is exact/broken;
* averaged: where the report's top group is "exact", the change of test MSE when
  the model is averaged over it (`softeq.regularizers.GroupAveraged`).
Prints a Markdown table (setting x tuner: test MSE mean ± std, agreement rates, the
averaging gain) and truth-by-verdict tables, and writes every run's numbers as JSON
lines. Never asserts.

    python benchmarks/bench_discovery.py [--preset fast] [--seeds 3] [--workers 2]
        [--tuners per,evidence] [--epochs N] [--out results/discovery.jsonl]
    python benchmarks/bench_discovery.py --table results/discovery.jsonl

Verdict agreement pools every exact/broken group of a setting's runs (a setting
whose groups are all approximate shows "–"); test MSE is mean ± sample std.
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

SETTINGS = [
    f"inertia:{s}" for s in ("o3", "o2x", "o2y", "o2z", "mixed", "broken", "rpp")
]
SETTINGS += [f"cossim:{s}" for s in ("so3-scale", "so3", "scale", "none")]


def agreement(report: dict) -> tuple[bool, float | None]:
    """(ranking agrees, fraction of exact/broken verdicts that agree), the fraction
    None when no group's truth is exact or broken (nothing to judge)."""
    ranks = {g["name"]: g["rank"] for g in report["groups"]}
    truth = {g["name"]: g["truth"] for g in report["groups"]}
    exact = [ranks[n] for n, t in truth.items() if t == "exact"]
    broken = [ranks[n] for n, t in truth.items() if t == "broken"]
    ranking = not exact or not broken or max(exact) < min(broken)
    judged = [g for g in report["groups"] if g["truth"] in ("exact", "broken")]
    if not judged:
        return ranking, None
    return ranking, sum(g["verdict"] == g["truth"] for g in judged) / len(judged)


def judged_verdicts(rows: list[dict]) -> tuple[int, int]:
    """(agreeing, judged): verdicts equal to the truth over all exact/broken groups
    of `rows`, pooled (a run's `report` holds its groups)."""
    judged = [g for r in rows for g in r["report"] if g["truth"] in ("exact", "broken")]
    return sum(g["verdict"] == g["truth"] for g in judged), len(judged)


def _verdict_cell(rows: list[dict]) -> str:
    agree, judged = judged_verdicts(rows)
    return f"{agree / judged:.0%}" if judged else "–"


LABELS = ("exact", "approximate", "broken")


def confusion(rows: list[dict], tuner: str) -> str:
    """Markdown table: each group's truth (rows) against its verdict (columns),
    pooled over the tuner's runs and settings."""
    counts = {(t, v): 0 for t in LABELS for v in LABELS}
    for r in rows:
        if r["tuner"] == tuner:
            for g in r["report"]:
                counts[g["truth"], g["verdict"]] += 1
    lines = [f"| {tuner}: truth \\ verdict | " + " | ".join(LABELS) + " |",
             "|---|---|---|---|"]  # fmt: skip
    for t in LABELS:
        lines.append(f"| {t} | " + " | ".join(str(counts[t, v]) for v in LABELS) + " |")
    return "\n".join(lines)


def averaging_gain(rows: list[dict]) -> str:
    """Mean relative change of test MSE when the model is averaged over its
    top-ranked group, over the runs whose top group's verdict is "exact" (the
    report's advice: impose it); "–" where none is."""
    changes = [
        top["averaged_mse"] / r["test_mse"] - 1
        for r in rows
        if (top := min(r["report"], key=lambda g: g["rank"]))["verdict"] == "exact"
        and top.get("averaged_mse") is not None
    ]
    if not changes:
        return "–"
    return f"{statistics.mean(changes):+.0%} ({len(changes)}/{len(rows)})"


def run_one(job: tuple[str, str, int, str, int | None]) -> dict:
    from softeq.train import TrainConfig, Trainer

    task, tuner, seed, preset, epochs = job
    torch.set_num_threads(1)
    cfg = TrainConfig(task=task, model="per", tuner=tuner, seed=seed, preset=preset,
                      epochs=epochs)  # fmt: skip
    trainer = Trainer(cfg, None)
    summary = trainer.fit()
    report = trainer.report
    ranking, verdicts = agreement(report)
    return {"task": task, "tuner": tuner, "seed": seed, "test_mse": summary["test_mse"],
            "ranking_agrees": ranking, "verdict_agreement": verdicts,
            "report": report["groups"]}  # fmt: skip


def run_jobs(fn, jobs: list, out: Path, workers: int) -> list[dict]:
    """`fn` over `jobs` in `workers` processes; each result is appended to the
    JSON-lines file `out` as it arrives (a killed grid keeps what finished)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with ProcessPoolExecutor(workers) as pool, out.open("w") as fh:
        for row in pool.map(fn, jobs):
            rows.append(row)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
    return rows


def table(rows: list[dict], tuners: list[str]) -> str:
    lines = [
        "| setting | "
        + " | ".join(
            f"{t}: test MSE | {t}: ranking | {t}: verdicts | {t}: averaged"
            for t in tuners
        )
        + " |"
    ]
    lines.append("|---|" + "---|---|---|---|" * len(tuners))
    for task in SETTINGS:
        cells = []
        for t in tuners:
            rs = [r for r in rows if r["task"] == task and r["tuner"] == t]
            if not rs:
                cells += ["–", "–", "–", "–"]
                continue
            mses = [r["test_mse"] for r in rs]
            std = statistics.stdev(mses) if len(mses) > 1 else 0.0
            cells.append(f"{statistics.mean(mses):.4g} ± {std:.2g}")
            cells.append(f"{sum(r['ranking_agrees'] for r in rs)}/{len(rs)}")
            cells.append(_verdict_cell(rs))
            cells.append(averaging_gain(rs))
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    for t in tuners:
        rs = [r for r in rows if r["tuner"] == t]
        if rs:
            rank = sum(r["ranking_agrees"] for r in rs) / len(rs)
            agree, judged = judged_verdicts(rs)
            lines.append(
                f"\n{t}: ranking agreement {rank:.0%} over {len(rs)} runs, "
                f"verdict agreement {agree}/{judged} exact/broken groups "
                f"({agree / max(judged, 1):.0%})"
            )
            lines.append("\n" + confusion(rows, t))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tuners", default="per,evidence")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--out", type=Path, default=Path("results/discovery.jsonl"))
    parser.add_argument(
        "--table", type=Path, metavar="JSONL",
        help="print the table of runs saved earlier (no training)",
    )  # fmt: skip
    args = parser.parse_args()
    tuners = args.tuners.split(",")
    if args.table is not None:
        rows = [json.loads(line) for line in args.table.read_text().splitlines()]
        print(table(rows, [t for t in tuners if any(r["tuner"] == t for r in rows)]))
        return
    settings = args.settings.split(",")
    jobs = [
        (task, t, s, args.preset, args.epochs)
        for task in settings
        for t in tuners
        for s in range(args.seeds)
    ]
    rows = run_jobs(run_one, jobs, args.out, args.workers)
    print(f"preset {args.preset}, epochs {args.epochs or 'preset'}, seeds {args.seeds}")
    print(table(rows, tuners))


if __name__ == "__main__":
    main()
