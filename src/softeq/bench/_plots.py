"""PNG plots of a results folder (needs matplotlib, the ``cli`` extra)."""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

from ._aggregate import Cell, _ordered, label
from ._suites import METHODS

_TRUTH_ORDER = ("exact", "approximate", "broken", "unknown")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metric(cells: list[Cell], metric: str, path: Path, title: str) -> None:
    """Grouped bars: `metric` per task (groups) and method (bars), log scale,
    error bars one sample std over seeds."""
    plt = _pyplot()
    tasks = list(dict.fromkeys(c.task for c in cells))
    methods = _ordered(list({c.method for c in cells}), list(METHODS))
    index = {(c.task, c.method): c for c in cells}
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(tasks) + 2), 4.2))
    for i, m in enumerate(methods):
        xs, ys, es = [], [], []
        for j, t in enumerate(tasks):
            c = index.get((t, m))
            if c is not None and metric in c.mean:
                xs.append(j + (i - (len(methods) - 1) / 2) * width)
                ys.append(c.mean[metric])
                es.append(c.std[metric])
        ax.bar(xs, ys, width, yerr=es, capsize=2, label=label(m))
    ax.set_xticks(range(len(tasks)), tasks, rotation=20, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (mean ± std over seeds)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_strengths(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Final penalty strength of every PER run and candidate against the
    candidate's true status (log scale): exact symmetries should sit high."""
    plt = _pyplot()
    per_rows = [r for r in rows if r["strengths"]]
    methods = _ordered(list({r["method"] for r in per_rows}), list(METHODS))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, m in enumerate(methods):
        xs, ys = [], []
        for r in (r for r in per_rows if r["method"] == m):
            for g, s in r["strengths"].items():
                truth = r["truth"].get(g) or "unknown"
                if s <= 0:  # the largest group is never penalised
                    continue
                key = f"{r['task']}/{g}/{r['seed']}".encode()
                jitter = (zlib.crc32(key) % 100) / 500 - 0.1
                xs.append(_TRUTH_ORDER.index(truth) + (i - 0.5) * 0.3 + jitter)
                ys.append(math.log10(s))
        ax.scatter(xs, ys, s=12, alpha=0.7, label=label(m))
    ax.set_xticks(range(len(_TRUTH_ORDER)), _TRUTH_ORDER)
    ax.set_xlabel("true status of the candidate group")
    ax.set_ylabel("log10 final strength λ")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
