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
    """Write `learning_curves.png` and, for soft models, `symmetry.png`."""
    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    if not rows:
        return []
    written = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("train/mse", "val/mse"):
        ax.plot(*_series(rows, key), label=key)
    ax.set(xlabel="epoch", ylabel="MSE", yscale="log", title="learning curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "learning_curves.png", dpi=100)
    plt.close(fig)
    written.append(run_dir / "learning_curves.png")
    groups = sorted({k.split("/")[-1] for r in rows for k in r if k.startswith("reg/")})
    if groups:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
        for g in groups:
            top.plot(*_series(rows, f"reg/strength/{g}"), label=g)
            bottom.plot(*_series(rows, f"reg/residual/{g}"), label=g)
        top.set(ylabel="strength", title="per-group strength and weight residual")
        bottom.set(xlabel="epoch", ylabel="‖(I−P)w‖²/‖w‖²", yscale="log")
        top.legend()
        fig.tight_layout()
        fig.savefig(run_dir / "symmetry.png", dpi=100)
        plt.close(fig)
        written.append(run_dir / "symmetry.png")
    return written
