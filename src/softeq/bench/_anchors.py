"""Published numbers our benchmark rows are compared with (`shared/ANCHORS.md`).

EMLP's synthetic suite: the mean test MSE over three trials in Finzi, Welling and
Wilson's own results file (`mfinzi/equivariant-MLP`,
`experiments/notebooks/synthetic_results_all.csv`; EMLP's own protocol: 900 epochs
at N = 1000, 300 at N = 3000, ch 384, Adam 3e-3, batch 500). The EMLP column is the
model with the task's full group (O(3), O(5), O(1,3)).
"""

from __future__ import annotations

from ._aggregate import Cell, label

#: (task, method) -> published mean test MSE.
EMLP_CSV: dict[tuple[str, str], float] = {
    ("emlp-inertia:1000", "mlp"): 3.236,
    ("emlp-inertia:1000", "mlp-aug"): 0.130,
    ("emlp-inertia:1000", "emlp-full"): 0.136,
    ("emlp-inertia:3000", "mlp"): 0.840,
    ("emlp-inertia:3000", "mlp-aug"): 0.112,
    ("emlp-inertia:3000", "emlp-full"): 0.028,
    ("o5-synthetic:1000", "mlp"): 0.0892,
    ("o5-synthetic:1000", "mlp-aug"): 0.0633,
    ("o5-synthetic:1000", "emlp-full"): 0.0170,
    ("o5-synthetic:3000", "mlp"): 0.0623,
    ("o5-synthetic:3000", "mlp-aug"): 0.0889,
    ("o5-synthetic:3000", "emlp-full"): 0.031,
    ("particle-interaction:1000", "mlp"): 0.364,
    ("particle-interaction:1000", "mlp-aug"): 0.0125,
    ("particle-interaction:1000", "emlp-full"): 0.0003,
    ("particle-interaction:3000", "mlp"): 0.0504,
    ("particle-interaction:3000", "mlp-aug"): 0.0108,
    ("particle-interaction:3000", "emlp-full"): 0.0002,
}

#: How far above the published mean a reproduced baseline may sit (issue 16).
TOLERANCE = 1.5


def anchor_table(cells: list[Cell]) -> str:
    """Markdown: every cell with a published anchor, ours beside theirs.

    Columns: task, method, our mean ± std (seeds), the published mean, the ratio
    ours / published, and whether ours is at most `TOLERANCE` times theirs.
    Returns an empty string when no cell has an anchor.
    """
    lines = ["| task | method | ours (mean ± std) | EMLP's results file | ours / "
             f"published | within {TOLERANCE:g}× |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    rows = 0
    for c in cells:
        anchor = EMLP_CSV.get((c.task, c.method))
        if anchor is None or "test_mse" not in c.mean:
            continue
        mean, std = c.mean["test_mse"], c.std["test_mse"]
        ratio = mean / anchor
        ok = "yes" if ratio <= TOLERANCE else "**no**"
        lines.append(f"| {c.task} | {label(c.method)} | {mean:.3g} ± {std:.2g} "
                     f"| {anchor:.3g} | {ratio:.2f} | {ok} |")  # fmt: skip
        rows += 1
    return "\n".join(lines) if rows else ""
