"""Write the symmetry report of a trained run: Markdown, JSON and PNG."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from .._atomic import write_text_atomic
from ..data import Task
from ..groups import Group, get
from ..metrics import orbit_errors, orbit_parameters, render_markdown, symmetry_report

#: Held-out samples the report measures on (the whole test split up to this).
REPORT_INPUTS = 2048
#: Held-out inputs of the orbit curves (`report_orbits.png`).
ORBIT_INPUTS = 32


def report_split(x_test: Tensor, y_test: Tensor) -> tuple[Tensor, Tensor | None]:
    """The test inputs the report measures on and their targets (None when the
    split has fewer than 2 samples: no symmetry cost, verdicts from the
    equivariance error)."""
    x, y = x_test[:REPORT_INPUTS], y_test[:REPORT_INPUTS]
    return x, (y if len(y) >= 2 else None)


def build_report(
    model: nn.Module,
    task: Task,
    summary: Mapping[str, Any],
    *,
    x_test: Tensor,
    y_test: Tensor,
    strengths: Mapping[str, float] | None,
    n_samples: int,
    constraints: Sequence[tuple[Group | str, str]] = (),
) -> dict[str, Any]:
    """The run's symmetry report (the `softeq discover --json` schema), measured on
    the test split: verdicts from the symmetry cost of its targets.

    Args:
        model: The selected model; left in train mode.
        task: The run's task (reps, candidates, truth, `true_fn`).
        summary: The run's summary; its ``task``, ``model``, ``seed`` and
            ``test_mse`` head the report.
        x_test: Test inputs `(n, rep_in.dim)`, on the model's device.
        y_test: Test targets `(n, rep_out.dim)`.
        strengths: The tuner's strengths, or None for a model without penalties.
        n_samples: Group elements per candidate (`TrainConfig.eval_transforms`).
        constraints: ``(group, how)`` pulls of the training the model does not
            declare itself (an orbit penalty's, `OrbitPenalty.constraints`): the
            report withholds "exact" and "approximate" under them.
    """
    rep_in, rep_out = task.reps()
    x, y = report_split(x_test, y_test)
    report = symmetry_report(
        model.eval(), rep_in, rep_out, task.groups, x, y=y, strengths=strengths,
        true_fn=task.true_fn, truth=task.truth, true_breakings=task.true_breaking,
        n_samples=n_samples, constraints=constraints,
    )  # fmt: skip
    model.train()
    report.update({k: summary[k] for k in ("task", "model", "seed", "test_mse")})
    return report


def orbit_curves(
    model: nn.Module, task: Task, x_test: Tensor, n_points: int = 48
) -> dict[str, dict]:
    """Per group with a Lie algebra: model (and truth) error along its orbit,
    on the first `ORBIT_INPUTS` test inputs `x_test` `(n, rep_in.dim)`."""
    rep_in, rep_out = task.reps()
    x = x_test[:ORBIT_INPUTS]
    curves = {}
    model.eval()
    for name in task.groups:
        G = get(name)
        grid = orbit_parameters(G, n_points)
        if grid is None:
            continue
        ts, label = grid
        errors = orbit_errors(model, rep_in, rep_out, G, x, ts, target=task.true_fn)
        truth = None
        if task.true_fn is not None:
            truth = orbit_errors(task.true_fn, rep_in, rep_out, G, x, ts)
        curves[name] = {
            "t": ts.tolist(), "label": label,
            "model": errors["equivariance_error"].tolist(),
            "truth": None if truth is None else truth["equivariance_error"].tolist(),
            "task_mse": errors["task_mse"].tolist() if "task_mse" in errors else None,
        }  # fmt: skip
    model.train()
    return curves


def write_report(
    report: dict[str, Any],
    out: Path,
    *,
    model: nn.Module,
    task: Task,
    x_test: Tensor,
) -> dict[str, Any]:
    """Write `report` (from `build_report`) as `report.md`, `report.json` and, with
    matplotlib, `report.png` and `report_orbits.png` (`orbit_curves` of `model`
    on `x_test`) into the run folder `out`."""
    title = f"Symmetry report: {report['model']} on {report['task']}"
    markdown = render_markdown(report, title)
    write_text_atomic(
        out / "report.md", markdown + f"\nTest MSE: {report['test_mse']:.5g}\n"
    )
    write_text_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    try:
        from ._plots import plot_orbits, plot_report
    except ImportError:  # plots are an optional extra (matplotlib)
        return report
    plot_report(report, out / "report.png")
    curves = orbit_curves(model, task, x_test)
    if curves:
        plot_orbits(curves, out / "report_orbits.png")
    return report
