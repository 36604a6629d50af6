"""What the symmetry report's verdicts can and cannot resolve on the synthetic tasks.

Two tables, printed as Markdown (never asserts):

* `--truth` (no training, seconds): for every synthetic setting and candidate
  group, the ground truth's own relative equivariance error and its breaking
  $E\\|\\rho_{out}(g)^{-1}y(gx) - y(x)\\|^2 / 2\\,\\mathrm{Var}(y)$ on the test
  split (`Task.true_breaking`), next to the label measured from it (the report's
  thresholds, `softeq.data.with_measured_truth`).
* `--scales` (trains PER once per setting, about 30 s each): the symmetry cost of
  every non-compact candidate at several Lie-algebra sampling scales, and with the
  report's scalings matched to the data (`symmetry_cost(..., scalings="data")`).

    python benchmarks/bench_verdicts.py --truth
    python benchmarks/bench_verdicts.py --scales 0.3,0.2,0.1,0.05 \\
        --settings cossim:so3-scale,cossim:so3
"""

from __future__ import annotations

import argparse

import torch

from softeq.data import get_task
from softeq.groups import get
from softeq.metrics import symmetry_cost

SETTINGS = [
    f"inertia:{s}" for s in ("o3", "o2x", "o2y", "o2z", "mixed", "broken", "rpp")
]
SETTINGS += [f"cossim:{s}" for s in ("so3-scale", "so3", "scale", "none")]
EMLP_TASKS = ("emlp-inertia", "o5-synthetic", "particle-interaction")
SETTINGS += [f"{t}:{n}" for t in EMLP_TASKS for n in (1000, 3000)]
N_SAMPLES = 16


def truth_table(settings: list[str]) -> str:
    lines = ["| task | group | truth (measured) | breaking "
             "| relative equivariance error (Gaussian inputs) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for spec in settings:
        task = get_task(spec)
        errors = task.true_errors(N_SAMPLES, N_SAMPLES)
        for name in task.groups:
            b, e = task.true_breaking[name], errors[name]
            lines.append(f"| {spec} | {name} | {task.truth[name]} | {b:.3f} "
                         f"| {e:.3f} |")  # fmt: skip
    return "\n".join(lines)


def scale_table(settings: list[str], scales: list[float]) -> str:
    from softeq.train import TrainConfig, Trainer

    heads = [f"scale {s:g}" for s in scales] + ["matched to the data"]
    lines = ["| task | group | label | " + " | ".join(heads) + " |",
             "|---|---|---|" + "---|" * len(heads)]  # fmt: skip
    for spec in settings:
        trainer = Trainer(TrainConfig(task=spec, model="per", seed=0), None)
        trainer.fit()
        model, task = trainer.model.eval(), trainer.task
        x, y = trainer.data["x_test"], trainer.data["y_test"]
        for name in task.groups:
            G = get(name)
            if G.is_compact:
                continue
            rep_in, rep_out = task.reps(name)
            cells = []
            for s in [*scales, None]:  # None: the report's data-matched scalings
                gen = torch.Generator().manual_seed(0)
                kind = "data" if s is None else "sampled"
                c = symmetry_cost(model, rep_in, rep_out, G, x, y, N_SAMPLES,
                                  generator=gen, scale=s or 1.0,
                                  scalings=kind)  # fmt: skip
                cells.append(f"{c.cost:.3g} ± {c.stderr:.2g}")
            lines.append(f"| {spec} | {name} | {task.truth[name]} | "
                         + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", action="store_true")
    parser.add_argument("--scales", default=None, help="e.g. 0.3,0.2,0.1")
    parser.add_argument("--settings", default=None)
    args = parser.parse_args()
    if not args.truth and args.scales is None:
        parser.error("give --truth and/or --scales")
    if args.truth:
        print(truth_table(args.settings.split(",") if args.settings else SETTINGS))
    if args.scales is not None:
        cossim = [s for s in SETTINGS if s.startswith("cossim")]
        settings = args.settings.split(",") if args.settings else cossim
        print(scale_table(settings, [float(s) for s in args.scales.split(",")]))


if __name__ == "__main__":
    main()
