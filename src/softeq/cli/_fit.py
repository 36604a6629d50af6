"""`softeq fit`: find the symmetries of a data file, then use them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..auto import KINDS, Fit, fit_task
from ..data import from_file
from ..metrics import render_markdown
from ._discover import add_data_arguments

#: `--hidden`'s choices -> `fit`'s `hidden`.
_HIDDEN = {"on": True, "off": False, "choose": "choose"}


def _models(value: str) -> str | list[str]:
    """``--model``: one of `KINDS`, or several separated by commas."""
    names = [v.strip() for v in value.split(",")]
    bad = [n for n in names if n not in KINDS]
    if bad or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(
            f"expected one or more distinct models of {', '.join(KINDS)} separated "
            f"by commas, got {value!r}"
        )
    return names[0] if len(names) == 1 else names


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument(
        "--model", default="mlp", type=_models,
        help="mlp (default), per (soft EMLP layers) or emlp (hard EMLP to impose); "
        "several separated by commas (mlp,per): one fit each, validation keeping "
        "the best (the other options apply to each)",
    )  # fmt: skip
    parser.add_argument(
        "--preset", default="converged", choices=["converged", "fast"],
        help="each stage's budget: converged (until the validation MSE stops "
        "improving) or fast (a short smoke run)",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per stage (converged: a cap)"
    )
    parser.add_argument(
        "--soft", action=argparse.BooleanOptionalAction, default=None,
        help="train the soft stage when no group to impose is exact (--soft) or "
        "never (--no-soft); default: always with per, otherwise only when no "
        "group can be imposed",
    )  # fmt: skip
    parser.add_argument(
        "--hidden", nargs="?", const="on", default="off",
        choices=["on", "off", "choose"],
        help="with per: hold the hidden layers on the largest candidate's maps in "
        "the soft and imposed stages (the symmetry broken in the output map "
        "only); --hidden choose trains those stages both ways and lets "
        "validation choose",
    )  # fmt: skip
    parser.add_argument(
        "--nonlinear-group", default=None, metavar="GROUP",
        help="with per: the candidate the hidden layers, bilinear layers and gates "
        "are built for (default: the largest candidate, as the reference); an "
        "orthogonal one such as SO3 gives the bilinear layers dot products",
    )  # fmt: skip
    parser.add_argument(
        "--soft-tuner", default=None, choices=["breaking", "per", "choose"],
        help="the soft stage's tuner: breaking (strengths from the evidence, broken "
        "groups dropped), per (PER's own tuner, as the per baseline; for an MLP, "
        "PER's rule on orbit penalties over every row, as mlp-orbit, and the "
        "stage is trained) or choose (both, validation choosing); default: "
        "choose with --model per, else breaking",
    )  # fmt: skip
    parser.add_argument(
        "--per-strengths", default=None, metavar="S[,S...]",
        help="PER's tuner's starting strength, or several (comma-separated), "
        "validation choosing; default: 0.01,1,100 (the reference's on its "
        "three task families, each with its weight decay: a file has none); "
        "an MLP's orbit penalties start from the preset's strength",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None,
        help="folder for the stages' run folders, fit.json, report.md and model.pt",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])


def run_fit(args: argparse.Namespace) -> int:
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; expected a folder")
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    per_strengths = None
    if args.per_strengths is not None:
        try:
            per_strengths = [float(v) for v in args.per_strengths.split(",")]
        except ValueError:
            raise ValueError(
                "--per-strengths must be numbers separated by commas, got "
                f"{args.per_strengths!r}"
            ) from None
    task = from_file(args.data, rep_in=args.rep_in, rep_out=args.rep_out,
                     groups=groups, seed=args.seed)  # fmt: skip
    result = fit_task(task, model=args.model, preset=args.preset, epochs=args.epochs,
                      seed=args.seed, device=args.device, progress=not args.json,
                      out=args.out, soft=args.soft, hidden=_HIDDEN[args.hidden],
                      nonlinear_group=args.nonlinear_group,
                      soft_tuner=args.soft_tuner,
                      per_strengths=per_strengths)  # fmt: skip
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        _print_fit(result, args.data.name, groups)
    return 0


def _print_fit(result: Fit, name: str, groups: list[str]) -> None:
    """The evidence report, the model kept, the plan and the test MSE."""
    print(render_markdown(result.report, f"Evidence (validation split): {name}"))
    print()
    on = result.spec.get("nonlinear_group") or groups[0]
    held = f", hidden layers held on {on}" if result.hidden else ""
    if result.carriers:
        scores = ", ".join(f"{k} {v:.4g}" for k, v in result.carriers.items())
        print(f"Model kept: {result.carrier} (validation MSE of each: {scores})")
    print(f"Plan (chosen model: {result.chosen}{held}):")
    for choice in result.plan:
        what = choice.action
        if choice.strength is not None:
            what += f" (strength {choice.strength:.3g})"
        if choice.via:
            what += f" ({choice.via})"
        print(f"  {choice.name}: {what} -- {choice.reason}")
    mses = ", ".join(f"{k} {v:.4g}" for k, v in result.val_mse.items())
    print(f"Validation MSE of each candidate: {mses}")
    print(f"Test MSE: {result.test_mse:.5g}")
    spread = result.test_metrics
    if "trimmed_mse" in spread:
        print(f"  without the worst 1 % of test points: {spread['trimmed_mse']:.5g} "
              f"(they carry {spread['worst_share']:.0%} of it); median point's "
              f"squared error {spread['median_se']:.3g}")  # fmt: skip
