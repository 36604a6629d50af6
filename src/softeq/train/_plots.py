"""PNG plots of a run folder: learning curves and per-group strengths and residuals."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the backend)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The epoch rows of `metrics.jsonl`."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["epoch"], r[key]) for r in rows if key in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write `learning_curves.png` and, for soft models, `symmetry.png`
    (strengths, weight residuals and, for the evidence tuner, the directions
    off each group's maps that the data determine, `EvidenceTuner.diagnostics`)."""
    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    if not rows:
        return []
    written = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("train/mse", "val/mse"):
        ax.plot(*_series(rows, key), label=key)
    ax.set(xlabel="epoch", ylabel="MSE", yscale="log", title="learning curves")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(run_dir / "learning_curves.png", dpi=100)
    plt.close(fig)
    written.append(run_dir / "learning_curves.png")
    groups = sorted({k.split("/")[-1] for r in rows for k in r if k.startswith("reg/")})
    if groups:
        # the evidence tuner's count of directions the data determine, when logged
        determined = any(k.startswith("tuner/determined/") for r in rows for k in r)
        fig, axes = plt.subplots(2 + determined, 1, figsize=(6, 6 + 2.5 * determined),
                                 sharex=True)  # fmt: skip
        top, bottom = axes[0], axes[-1]
        for g in groups:
            top.plot(*_series(rows, f"reg/strength/{g}"), label=g)
            axes[1].plot(*_series(rows, f"reg/residual/{g}"), label=g)
            if determined:
                bottom.plot(*_series(rows, f"tuner/determined/{g}"), ".-", label=g)
        top.set(ylabel="strength", title="per-group strength and weight residual")
        axes[1].set(ylabel="‖(I−P)w‖²/‖w‖²", yscale="log")
        if determined:
            bottom.set(ylabel="directions determined (γ)", yscale="log")
        bottom.set(xlabel="epoch")
        top.legend(loc="upper right")
        fig.tight_layout()
        fig.savefig(run_dir / "symmetry.png", dpi=100)
        plt.close(fig)
        written.append(run_dir / "symmetry.png")
    return written


def plot_report(report: dict, path: str | Path) -> Path:
    """Bar chart, ranked: each group's model equivariance error (and the truth's)
    and, when the report has held-out targets, the breaking with its interval, the
    true breaking and the verdict thresholds."""
    entries = report["groups"]
    has_cost = report.get("verdict_basis") == "breaking"
    panels = 2 if has_cost else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(panels * (1.2 * len(entries) + 2.5), 3.5), squeeze=False
    )
    _error_bars(axes[0][0], entries, label_verdicts=not has_cost)
    if has_cost:
        _breaking_bars(axes[0][1], entries, report["thresholds"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _error_bars(ax, entries: list[dict], *, label_verdicts: bool) -> None:
    names = [e["name"] for e in entries]
    model = [e["equivariance_error"] for e in entries]
    xs = range(len(names))
    has_truth = any(e["true_error"] is not None for e in entries)
    width = 0.4 if has_truth else 0.7
    ax.bar([x - width / 2 * has_truth for x in xs], model, width, label="trained model")
    if has_truth:
        truth = [e["true_error"] or 0.0 for e in entries]
        ax.bar([x + width / 2 for x in xs], truth, width, label="ground truth")
    if label_verdicts:
        for x, e in zip(xs, entries, strict=True):
            ax.text(x, max(model) * 1.02, e["verdict"], ha="center", fontsize=8)
    ax.set_xticks(list(xs), names)
    ax.set(ylabel="relative equivariance error", title="symmetry report (ranked)")
    ax.legend(fontsize=8, loc="upper right")


def _breaking_bars(ax, entries: list[dict], thresholds: dict) -> None:
    """The breaking per group with its 95 % interval, the true breaking beside it
    when known, the thresholds and each verdict."""
    xs = list(range(len(entries)))
    values = [e["breaking"] for e in entries]
    below = [e["breaking"] - e["breaking_low"] for e in entries]
    above = [e["breaking_high"] - e["breaking"] for e in entries]
    has_truth = any(e.get("true_breaking") is not None for e in entries)
    width = 0.4 if has_truth else 0.6
    shift = width / 2 * has_truth
    ax.bar([x - shift for x in xs], values, width, yerr=[below, above], color="C2",
           capsize=3, label="data (trained model)")  # fmt: skip
    if has_truth:
        truth = [e["true_breaking"] or 0.0 for e in entries]
        ax.bar([x + shift for x in xs], truth, width, color="C1", label="ground truth")
        ax.legend(fontsize=7, loc="center left")
    for name, value in thresholds.items():
        ax.axhline(value, ls="--", lw=0.8, color="grey")
        ax.text(len(xs) - 0.55, value, f"{name} {value:g}", fontsize=7, va="bottom",
                ha="right")  # fmt: skip
    top = max(*(e["breaking_high"] for e in entries), thresholds["broken"], 0.05)
    for x, e in zip(xs, entries, strict=True):
        ax.text(x, top * 1.15, e["verdict"], ha="center", fontsize=8)
    ax.set_ylim(min(0.0, *(e["breaking_low"] for e in entries)), top * 1.35)
    ax.set_xticks(xs, [e["name"] for e in entries])
    ax.set(ylabel="breaking (share of Var(y))", title="verdicts (95 % intervals)")


def plot_orbits(curves: dict[str, dict], path: str | Path) -> Path:
    """Per group, along the orbit of its first Lie generator $A_1$ (for O3 and SO3
    that is the rotation about z): the model's relative equivariance error next to
    the ground truth's (top) and, when the truth is known, the model's task MSE on
    the transformed inputs (bottom)."""
    n = len(curves)
    has_task = any(c.get("task_mse") is not None for c in curves.values())
    rows = 2 if has_task else 1
    fig, axes = plt.subplots(rows, n, figsize=(3.2 * n, 2.8 * rows), squeeze=False)
    for k, (name, c) in enumerate(curves.items()):
        ax = axes[0][k]
        ax.plot(c["t"], c["model"], label="model")
        if c.get("truth") is not None:
            ax.plot(c["t"], c["truth"], "--", label="ground truth")
        ax.set(title=f"{name}: g = exp(t A1)", ylabel="equivariance error")
        ax.set_ylim(bottom=0)
        if has_task:
            axes[1][k].plot(c["t"], c["task_mse"] or [], color="C2")
            axes[1][k].set(ylabel="task MSE", yscale="log")
        axes[rows - 1][k].set_xlabel(c["label"])
    axes[0][0].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
