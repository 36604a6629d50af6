"""Write the symmetry report of a trained run: Markdown, JSON and PNG."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from torch import Tensor

from .._atomic import write_text_atomic
from ..groups import get
from ..metrics import orbit_errors, orbit_parameters, render_markdown, symmetry_report

if TYPE_CHECKING:
    from ._trainer import Trainer


#: Held-out samples the report measures on (the whole test split up to this).
REPORT_INPUTS = 2048


def report_split(trainer: Trainer) -> tuple[Tensor, Tensor | None]:
    """The test inputs the report measures on and their targets (None when the
    split has fewer than 2 samples: no symmetry cost, verdicts from the
    equivariance error)."""
    x = trainer.data["x_test"][:REPORT_INPUTS]
    y = trainer.data["y_test"][:REPORT_INPUTS]
    return x, (y if len(y) >= 2 else None)


def build_report(trainer: Trainer, summary: dict[str, Any]) -> dict[str, Any]:
    """The run's symmetry report (the `softeq discover --json` schema), measured on
    the test split: verdicts from the symmetry cost of its targets."""
    task, cfg = trainer.task, trainer.config
    rep_in, rep_out = task.reps()
    x, y = report_split(trainer)
    report = symmetry_report(
        trainer.model.eval(), rep_in, rep_out, task.groups, x, y=y,
        strengths=trainer.tuner.strengths if trainer.penalty is not None else None,
        true_fn=task.true_fn, truth=task.truth, n_samples=cfg.eval_transforms,
    )  # fmt: skip
    trainer.model.train()
    report.update(task=task.name, model=cfg.model, seed=cfg.seed,
                  test_mse=summary["test_mse"])  # fmt: skip
    return report


def orbit_curves(trainer: Trainer, n_points: int = 48) -> dict[str, dict]:
    """Per group with a Lie algebra: model (and truth) error along its orbit."""
    task = trainer.task
    rep_in, rep_out = task.reps()
    x = trainer.data["x_test"][:32]
    curves = {}
    trainer.model.eval()
    for name in task.groups:
        G = get(name)
        grid = orbit_parameters(G, n_points)
        if grid is None:
            continue
        ts, label = grid
        model = orbit_errors(trainer.model, rep_in, rep_out, G, x, ts,
                             target=task.true_fn)  # fmt: skip
        truth = None
        if task.true_fn is not None:
            truth = orbit_errors(task.true_fn, rep_in, rep_out, G, x, ts)
        curves[name] = {
            "t": ts.tolist(), "label": label,
            "model": model["equivariance_error"].tolist(),
            "truth": None if truth is None else truth["equivariance_error"].tolist(),
            "task_mse": model["task_mse"].tolist() if "task_mse" in model else None,
        }  # fmt: skip
    trainer.model.train()
    return curves


def write_report(trainer: Trainer, report: dict[str, Any]) -> dict[str, Any]:
    """Write `report` (from `build_report`) as `report.md`, `report.json` and, with
    matplotlib, `report.png` and `report_orbits.png` into the run folder."""
    out = trainer.out
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
    curves = orbit_curves(trainer)
    if curves:
        plot_orbits(curves, out / "report_orbits.png")
    return report
