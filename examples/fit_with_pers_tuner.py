"""`softeq.fit` with both soft-stage tuners, PER's and the breaking one.

`softeq.fit` keeps a candidate group soft with a strength from the evidence: the
breaking tuner gives a group the data respect full strength and drops one they
break by more than a quarter of Var(y). PER's own tuner instead penalises every
candidate but the largest, broken or not, and rescales the strengths once by
their penalties' ratios. On `inertia:broken` every group is broken in part, and
the pull towards them helps the hidden layers: with the breaking tuner every
penalty ends dropped, with PER's the penalties stay (README, "PER's inertia
settings"). ``soft_tuner="choose"`` trains the soft stage both ways from the same
initial weights and lets validation choose; the ``soft-per`` candidate is the
`per` baseline's model, trained exactly as `softeq train --model per` trains it.

The script prints every candidate's validation MSE, the chosen one, and the plan:
per candidate group what the chosen model does with it (and the strength). On
`inertia:broken` (converged, seed 0, one thread; 10 min on a busy 2-core
machine) PER's tuner wins validation, 0.146 against the breaking tuner's 0.573
(whose strengths all ended at 0), with strengths 100, 48.6 and 15.6 on O2x, O2y
and O2z and none on O3; test MSE 0.206, the `per` baseline's own seed 0.

The example fits a built-in task with `softeq.auto.fit_task`, so every stage
uses the task's own training preset: for inertia PER's reference strength 100
and weight decay 2e-4. With ``--arrays`` it passes the same splits to
`softeq.fit` as plain arrays, as a user with their own data would: arrays have
no task family, so the stages use the defaults of EMLP's tasks (weight decay
2e-5) and PER's tuner starts once from each of the reference's strengths
(`softeq.auto.PER_STRENGTHS`: 0.01, 1, 100), each with the weight decay the
reference paired with it (2e-4 at 100), validation choosing (`fit`'s
`per_strengths`; docs/fit.md). On `inertia:broken` (seed 0, converged, ~8 min
with ``--per-strengths 100``) validation picks the start 100 (0.146, against
4.17 from 1 and 5.54 from 0.01) and the fit tests at 0.206, as the task's own;
from strength 1 alone, the earlier default, it tested 4.4. PER needs thousands
of epochs, so every stage trains to convergence by default; at the `fast`
preset (300 epochs per stage) no penalised SoftEMLP has fitted yet (seed 0: the
unpenalised model wins with validation 6.4, PER's tuner 6.6, the breaking tuner
8.7).

With ``--model mlp`` the model has orbit penalties instead, and the ``soft-per``
candidate is the `mlp-orbit` baseline's model (PER's rule on orbit penalties over
every row); naming PER's tuner asks for the MLP's soft stage, which `fit` skips by
default. On ``--task mocap:residual`` (converged, 3 seeds, bench method
`auto-soft-tuners`) validation picks it in every seed: test ADE 0.0474, against
0.0542 for the default fit and 0.0545 for constant velocity (docs/fit.md).

    python examples/fit_with_pers_tuner.py [--task inertia:broken] [--model per|mlp]
                                           [--preset converged|fast] [--epochs N]
                                           [--soft-tuner choose|per|breaking]
                                           [--arrays] [--per-strengths S,S,...]
                                           [--fast-dev-run]
"""

from __future__ import annotations

import argparse

import torch

from softeq import fit
from softeq.auto import fit_task
from softeq.data import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="inertia:broken")
    parser.add_argument(
        "--model", default="per", choices=["per", "mlp"],
        help="per: PER's SoftEMLP (projection penalties); mlp: an MLP, whose "
        "soft stage with PER's tuner is the mlp-orbit baseline's",
    )  # fmt: skip
    parser.add_argument("--preset", default="converged", choices=["converged", "fast"])
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per stage (converged: a cap)"
    )
    parser.add_argument(
        "--soft-tuner", default="choose", choices=["choose", "per", "breaking"]
    )
    parser.add_argument(
        "--arrays", action="store_true",
        help="fit the task's splits as plain arrays (softeq.fit), as user data",
    )  # fmt: skip
    parser.add_argument(
        "--per-strengths", default=None,
        help="PER's tuner's starting strengths, comma-separated (default: the "
        "task's family's; with --arrays 0.01,1,100)",
    )  # fmt: skip
    parser.add_argument("--fast-dev-run", action="store_true", help="2 epochs")
    args = parser.parse_args()
    preset = "fast" if args.fast_dev_run else args.preset
    epochs = 2 if args.fast_dev_run else args.epochs

    starts = None
    if args.per_strengths is not None:
        starts = [float(v) for v in args.per_strengths.split(",")]
    torch.manual_seed(0)
    task = get_task(args.task)
    options = dict(model=args.model, preset=preset, epochs=epochs,
                   soft_tuner=args.soft_tuner, per_strengths=starts,
                   progress=not args.fast_dev_run)  # fmt: skip
    if args.arrays:
        # the same splits, as plain arrays: no task family, no known truth
        result = fit(task.x_train, task.y_train, x_val=task.x_val, y_val=task.y_val,
                     x_test=task.x_test, y_test=task.y_test, rep_in=task.rep_in,
                     rep_out=task.rep_out, groups=list(task.groups),
                     **options)  # fmt: skip
    else:
        # the task's splits and training preset; fit_task reads its test split
        # once, at the end, and never its known truth
        result = fit_task(task, **options)
    print("validation MSE per candidate:")
    for key, mse in sorted(result.val_mse.items(), key=lambda kv: kv[1]):
        mark = "  <- chosen" if key == result.candidate else ""
        print(f"  {key:28s} {mse:.4g}{mark}")
    print("plan:")
    for choice in result.plan:
        strength = "" if choice.strength is None else f" {choice.strength:.3g}"
        via = f" [{choice.via}]" if choice.via else ""
        print(f"  {choice.name:5s} {choice.action}{strength}{via} -- {choice.reason}")
    print(f"test MSE {result.test_mse:.4g}")


if __name__ == "__main__":
    main()
