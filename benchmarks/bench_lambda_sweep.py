"""Does soft regularization approach hard equivariance? A strength sweep on one group.

On `inertia:o2z` (O(2) about z exact, O(3) broken) SoftEMLP over the candidates
O3 and O2z trains with a fixed strength λ on O2z only (`--tuner constant`), for
every λ of the sweep, next to the models it should interpolate between. `--task`
and `--group` pick another setting (the names below are the default's): e.g.
`--task inertia:o3 --group O3` penalises O(3) alone, and `emlp` is then EMLP(O3)
of PER's allocation.

* ``soft``: SoftEMLP(O3, O2z), strength λ on O2z (λ = 0: the unconstrained net),
  the penalty in the loss as in the reference (`penalty_mode="loss"`);
* ``prox``: the same model and λ with the penalty applied as an exact proximal
  step after each optimiser step (`penalty_mode="proximal"`);
* ``soft-all``: SoftEMLP over all four of the task's candidates, strength λ on
  each of O2x, O2y and O2z, in the loss (PER's penalties without its tuner: the
  data break two of the three groups);
* ``soft-p0``: ``soft`` with its weights projected onto O2z's maps at
  initialisation ($W \\leftarrow P W$), so that training starts where the hard
  model does;
* ``orbit``: the MLP with an orbit penalty (``mlp-orbit``, ch 384), strength λ
  on O2z only: $\\lambda\\,\\mathbb{E}_g \\|f(\\rho_{in}(g)x) -
  \\rho_{out}(g)f(x)\\|^2$ over 4 sampled elements per training input, the
  function-space penalty for any model (λ = 0: the ``mlp`` reference);
* ``limit``: EMLP with O2z-equivariant linear maps and the same O3-built bilinear
  layers and gates, `EMLP(nonlinear_group=O3)`: SoftEMLP's λ → ∞ limit;
* ``emlp``: EMLP(O2z) of the same allocation (hidden layers, bilinear layers and
  gates built for O2z): the hard-equivariant network for the true group;
* ``mlp``: the plain MLP of the same preset.

Every model but the MLPs has SoftEMLP's allocation (ch 128, PER's
54V0+18V+6V2+2V3, RPP gates), and every one trains with the converged preset
(until its validation MSE stops improving), all without weight decay, so that λ
is the only regulariser that differs.
Per run: test MSE, the epoch of the selected model and why training stopped, the
final O2z weight residual (soft only) and, per layer, every candidate's weight
residual (soft variants; `--layers` tabulates O3's). Writes one JSON line per run
(a rerun skips finished runs, so `--hours` slices a long sweep), a Markdown
table and a plot. Never asserts.

    python benchmarks/bench_lambda_sweep.py [--task inertia:o2z] [--group O2z]
        [--seeds 3] [--workers 2]
        [--lambdas 0,1,10,100,1000,10000] [--variants soft,prox,limit,emlp,mlp]
        [--out results/lambda-sweep] [--patience N] [--weight-decay WD] [--runs DIR]
        [--hours H]
    python benchmarks/bench_lambda_sweep.py --table results/lambda-sweep [--layers]

e.g. `--task cossim:so3 --group SO3 --variants orbit --lambdas 1` trains the MLP
with an orbit penalty on SO3 alone at strength 1 (the task's other candidate,
Scale3, unpenalised).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

import torch

#: The default setting: the task and its true group, penalised alone.
TASK, GROUP = "inertia:o2z", "O2z"
#: SoftEMLP's architecture, shared by every model of the sweep but the MLP.
ARCH = {"ch": 128, "allocation": "per", "gate": "rpp"}
#: One optimiser for every model (the converged preset's; no weight decay, so
#: that λ is the only regulariser that differs; selection from the first epoch).
SHARED = {"weight_decay": 0.0, "select_after": 0}
REFERENCES = ("limit", "emlp", "mlp")
#: The swept variants: the penalty in the loss, or as a proximal step, on O2z; or
#: in the loss on every O(2) candidate.
SOFT = ("soft", "prox", "soft-all", "soft-p0")
#: The swept variant on an MLP: its orbit penalty on the one group.
ORBIT = "orbit"
#: Every variant with a strength λ.
SWEPT = (*SOFT, ORBIT)


def candidates(largest: str, group: str) -> tuple[str, ...]:
    """The candidates of the one-group variants: the task's largest group, whose
    representations build SoftEMLP, and the penalised `group` (alone when it is
    the largest: its strength then is the only one)."""
    return (largest,) if group == largest else (largest, group)


def start_on_maps(model: torch.nn.Module, group: str) -> None:
    """Project every soft layer's weights and biases onto `group`'s equivariant
    maps, $W \\leftarrow P W$ (`ProjectionPenalty.project`; the trainer's
    ``init="equivariant"`` does the same with the largest candidate)."""
    from softeq.regularizers import ProjectionPenalty

    ProjectionPenalty(model).project(group)


def run_one(job: tuple[str, float | None, int, dict]) -> dict:
    """Train one model of the sweep; return its numbers."""
    from softeq.data import get_task
    from softeq.nn.models import build
    from softeq.train import TrainConfig, Trainer

    variant, strength, seed, overrides = job
    overrides = dict(overrides)
    runs = overrides.pop("runs", None)  # a folder for the run folders, if kept
    task_name = overrides.pop("task", TASK)
    group = overrides.pop("group", GROUP)
    torch.set_num_threads(1)
    task = get_task(task_name, seed=seed)
    largest = task.groups[0]
    cands = candidates(largest, group)
    if variant != "soft-all":
        truth = {g: task.truth[g] for g in cands}
        task = dataclasses.replace(task, groups=cands, truth=truth)
    common = {"task": task_name, "seed": seed, **SHARED, **overrides}
    model = None
    if variant in SOFT:
        mode = "proximal" if variant == "prox" else "loss"
        config = TrainConfig(**common, **ARCH, model="per", tuner="constant",
                             strength=float(strength), penalty_mode=mode)  # fmt: skip
    elif variant == ORBIT:
        config = TrainConfig(**common, model="mlp-orbit", tuner="constant",
                             strength=float(strength))  # fmt: skip
    elif variant == "mlp":
        config = TrainConfig(**common, model="mlp")
    else:
        config = TrainConfig(**common, **ARCH, model="emlp", group=group)
        rep_in, rep_out = task.reps()
        outer = largest if variant == "limit" else group
        init = torch.Generator().manual_seed(seed)
        model = build("emlp", rep_in, rep_out, cands, group=group,
                      nonlinear_group=outer, num_layers=3, generator=init,
                      **ARCH)  # fmt: skip
    out = None if runs is None else Path(runs) / f"{variant}-{strength}-s{seed}"
    trainer = Trainer(config, out, task=task, model=model)
    if variant == "soft-p0":
        start_on_maps(trainer.model, group)
    summary = trainer.fit()
    residual, layers = None, None
    if variant in SOFT:
        from softeq.metrics import weight_residuals

        residuals = weight_residuals(trainer.model)
        residual = float(residuals[group]["total"])
        layers = {g: [float(r) for r in e["layers"]] for g, e in residuals.items()}
    return {"variant": variant, "strength": strength, "seed": seed,
            "task": task_name, "group": group, "largest": largest,
            "test_mse": summary["test_mse"], "val_mse": summary["val_mse"],
            "best_epoch": summary["best_epoch"], "epochs_run": summary["epochs_run"],
            "stop_reason": summary["stop_reason"], "residual": residual,
            "residual_layers": layers,
            "num_parameters": summary["num_parameters"]}  # fmt: skip


def setting(rows: list[dict]) -> tuple[str, str, str]:
    """`(task, penalised group, largest group)` of a sweep's rows (rows written
    before the sweep took `--task` are `inertia:o2z`'s); one setting per folder."""
    found = {(r.get("task", TASK), r.get("group", GROUP), r.get("largest", "O3"))
             for r in rows}  # fmt: skip
    if len(found) > 1:
        raise ValueError(f"one setting per sweep folder, found {sorted(found)}")
    return found.pop() if found else (TASK, GROUP, "O3")


def _residual(row: dict) -> float:
    """The penalised group's final weight residual (`residual_O2z` in old rows)."""
    return row["residual"] if "residual" in row else row["residual_O2z"]


def _key(row: dict) -> tuple:
    return (row["variant"], row["strength"], row["seed"])


def run_resumable(
    jobs: list, out: Path, workers: int, deadline: float | None = None
) -> tuple[list[dict], int]:
    """Run the jobs not yet in `out` (JSON lines), appending each result as it
    finishes; none starts after `deadline` (`time.time()` seconds; runs under way
    finish). Returns the rows and the number of jobs left not started."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    if out.is_file():
        rows = [json.loads(x) for x in out.read_text().splitlines()]
    done = {_key(r) for r in rows}
    todo = [j for j in jobs if (j[0], j[1], j[2]) not in done]
    running: set[Future] = set()
    with ProcessPoolExecutor(workers) as pool, out.open("a") as fh:
        while todo or running:
            while todo and len(running) < workers:
                if deadline is not None and time.time() > deadline:
                    break
                running.add(pool.submit(run_one, todo.pop(0)))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                row = future.result()
                rows.append(row)
                fh.write(json.dumps(row) + "\n")
                fh.flush()
    return rows, len(todo)


def _stats(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def labels(group: str, largest: str) -> dict[str, str]:
    """Each variant's name in tables and plots, for a sweep on `group`."""
    soft = ", ".join(candidates(largest, group))
    return {"soft": f"SoftEMLP({soft}), penalty in the loss",
            "prox": f"SoftEMLP({soft}), proximal penalty",
            "soft-all": f"SoftEMLP over every candidate, λ on each but {largest}, "
            "in the loss",
            "soft-p0": f"SoftEMLP({soft}), penalty in the loss, started on "
            f"{group}'s maps",
            "limit": f"its λ → ∞ limit ({group} linear maps, {largest} "
            "nonlinearities)",
            "emlp": f"EMLP({group}), same allocation",
            ORBIT: f"MLP (ch 384), orbit penalty on {group} only",
            "mlp": "MLP (ch 384)"}  # fmt: skip


def table(rows: list[dict]) -> str:
    """Markdown: one line per model (soft per strength), test MSE mean ± std."""
    _, group, largest = setting(rows)
    lines = [f"| model | λ on {group} | test MSE | validation MSE | selected at epoch "
             f"| stopped at | why | final {group} residual |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    names = labels(group, largest)
    keys = sorted({(r["variant"], r["strength"]) for r in rows},
                  key=lambda k: (k[0] not in SWEPT, (SWEPT + REFERENCES).index(k[0]),
                                 k[1] or 0))  # fmt: skip
    for variant, strength in keys:
        rs = [r for r in rows if (r["variant"], r["strength"]) == (variant, strength)]
        why = ", ".join(sorted({r["stop_reason"] for r in rs}))
        residual = "0 (exact)" if variant in ("limit", "emlp") else "–"
        if variant in SOFT:
            residual = _stats([_residual(r) for r in rs])
        lam = f"{strength:g}" if variant in SWEPT else "–"
        lines.append(
            f"| {names[variant]} | {lam} | {_stats([r['test_mse'] for r in rs])} "
            f"| {_stats([r['val_mse'] for r in rs])} "
            f"| {_stats([r['best_epoch'] for r in rs])} "
            f"| {_stats([r['epochs_run'] for r in rs])} | {why} | {residual} |"
        )
    return "\n".join(lines)


def layers_table(rows: list[dict]) -> str:
    """Markdown: per soft model and strength, the mean over seeds of each layer's
    O3 weight residual, first layer to last (rows that recorded them)."""
    rows = [r for r in rows if r.get("residual_layers")]
    if not rows:
        return "(no run recorded per-layer residuals)"
    largest = setting(rows)[2]
    keys = sorted({(r["variant"], r["strength"]) for r in rows},
                  key=lambda k: (SOFT.index(k[0]), k[1]))  # fmt: skip
    depth = max((len(r["residual_layers"][largest]) for r in rows), default=0)
    head = " | ".join(f"layer {i + 1}" for i in range(depth))
    lines = [f"| model | λ | seeds | {largest} residual: {head} |",
             "|---|---|---|" + "---|" * depth]  # fmt: skip
    for variant, strength in keys:
        rs = [r for r in rows if (r["variant"], r["strength"]) == (variant, strength)]
        means = [statistics.mean(r["residual_layers"][largest][i] for r in rs)
                 for i in range(depth)]  # fmt: skip
        cells = " | ".join(f"{m:.2g}" for m in means)
        lines.append(f"| {variant} | {strength:g} | {len(rs)} | {cells} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Test MSE against λ (soft), with the references as horizontal bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task, group, largest = setting(rows)
    names = labels(group, largest)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    curves = {
        "soft": ("C0", names["soft"]),
        "prox": ("C4", names["prox"]),
        "soft-all": ("C5", names["soft-all"]),
        "soft-p0": ("C6", names["soft-p0"]),
        ORBIT: ("C7", names[ORBIT]),
    }
    for variant, (color, label) in curves.items():
        # λ = 0 is one model for the SoftEMLP variants (no penalty): drawn on each
        mine = [r for r in rows if r["variant"] == variant
                or (r["variant"] == "soft" and r["strength"] == 0
                    and variant in ("prox", "soft-p0"))]  # fmt: skip
        if not any(r["variant"] == variant for r in mine):
            continue
        lams = sorted({r["strength"] for r in mine})
        means = [statistics.mean(r["test_mse"] for r in mine if r["strength"] == s)
                 for s in lams]  # fmt: skip
        xs = [max(s, 0.1) for s in lams]  # λ = 0 drawn at 0.1 on the log axis
        for r in mine:
            ax.scatter(max(r["strength"], 0.1), r["test_mse"], s=12, color=color,
                       alpha=0.5)  # fmt: skip
        ax.plot(xs, means, "o-", color=color, label=label)
    colors = {"limit": "C1", "emlp": "C2", "mlp": "C3"}
    for variant in REFERENCES:
        values = [r["test_mse"] for r in rows if r["variant"] == variant]
        if values:
            ax.axhline(statistics.mean(values), color=colors[variant], ls="--",
                       label=names[variant])  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"strength λ on {group} (0 drawn at 0.1)")
    ax.set_ylabel("test MSE")
    ax.set_title(f"{task}, converged, mean of seeds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _overrides(args: argparse.Namespace) -> dict:
    """The training options the flags change for every run of the sweep."""
    flags = {"epochs": args.epochs, "patience": args.patience,
             "weight_decay": args.weight_decay, "task": args.task,
             "group": args.group,
             "runs": None if args.runs is None else str(args.runs)}  # fmt: skip
    return {k: v for k, v in flags.items() if v is not None}


def _check_setting(
    parser: argparse.ArgumentParser, task_name: str, group: str, variants: list[str]
) -> None:
    """Stop with a clear message before any run when the flags cannot work."""
    from softeq.data import get_task

    unknown = sorted(set(variants) - set(SWEPT + REFERENCES))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {SWEPT + REFERENCES}")
    try:
        task = get_task(task_name, seed=0)
    except (KeyError, ValueError) as err:
        parser.error(f"--task {task_name}: {err}")
    if group not in task.groups:
        parser.error(f"--group {group} is not a candidate of {task_name}: "
                     f"{', '.join(task.groups)}")  # fmt: skip
    if group == task.groups[0] and "limit" in variants:
        parser.error(f"--group {group} is the largest candidate: its λ → ∞ limit is "
                     "the variant emlp; drop limit from --variants")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", help=f"the setting (default {TASK}); a new --out")
    parser.add_argument("--group", help=f"the penalised group, a candidate of the "
                        f"task (default {GROUP})")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lambdas", default="0,1,10,100,1000,10000")
    parser.add_argument("--variants", default="soft,prox,limit,emlp,mlp")
    parser.add_argument("--epochs", type=int, help="cap on epochs (smoke tests)")
    parser.add_argument("--patience", type=int, help="the stopping rule's patience")
    parser.add_argument("--weight-decay", type=float,
                        help="every model's (default 0); a new --out")  # fmt: skip
    parser.add_argument("--runs", type=Path, help="keep each run's folder here")
    parser.add_argument("--hours", type=float,
                        help="start no run after this many hours (runs under way "
                        "finish); the same command later trains the rest")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/lambda-sweep"))
    parser.add_argument("--table", type=Path, help="only print the table of OUT")
    parser.add_argument(
        "--layers",
        action="store_true",
        help="also print the per-layer O3 residuals of soft runs",
    )
    args = parser.parse_args()
    folder = args.table or args.out
    path = folder / "runs.jsonl"
    if args.table is None:
        overrides = _overrides(args)
        variants = args.variants.split(",")
        _check_setting(parser, args.task or TASK, args.group or GROUP, variants)
        lambdas = [float(x) for x in args.lambdas.split(",")]
        jobs = []
        for seed in range(args.seeds):
            if "soft" in variants:
                jobs += [("soft", lam, seed, overrides) for lam in lambdas]
            # at λ = 0: the soft run (the SoftEMLPs) or the mlp reference (orbit)
            for v in ("prox", "soft-all", "soft-p0", ORBIT):
                if v in variants:
                    jobs += [(v, lam, seed, overrides) for lam in lambdas if lam]
            jobs += [(v, None, seed, overrides) for v in variants if v not in SWEPT]
        if args.hours is not None and args.hours <= 0:
            parser.error(f"--hours must be > 0, got {args.hours}")
        deadline = None if args.hours is None else time.time() + 3600 * args.hours
        _, left = run_resumable(jobs, path, args.workers, deadline)
        if left:
            print(f"{left} runs not started (--hours {args.hours:g}): the same "
                  "command trains them later")  # fmt: skip
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    text = table(rows)
    print(text)
    if args.layers:
        text += "\n\n" + layers_table(rows)
        print("\n" + layers_table(rows))
    (folder / "table.md").write_text(text + "\n")
    try:
        plot(rows, folder / "lambda-sweep.png")
    except ImportError:  # plots are an optional extra
        pass


if __name__ == "__main__":
    main()
