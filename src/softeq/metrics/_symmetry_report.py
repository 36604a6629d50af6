"""The symmetry report: per candidate group, how strongly the symmetry holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..groups import Group, as_groups
from ..reps import Rep
from ._cost import symmetry_cost
from ._equivariance import equivariance_error
from ._weights import weight_residuals

#: Verdict thresholds on the trained model's relative equivariance error (held-out
#: inputs): below `exact` the symmetry holds to within what training resolves;
#: below `approximate` it holds approximately; above, it is broken. The relative
#: error is scale-free and at most 1 (0.5 for unrelated outputs of equal norm).
VERDICT_THRESHOLDS = {"exact": 0.02, "approximate": 0.15}

#: Verdict thresholds on the symmetry cost (`symmetry_cost`: the relative increase
#: of held-out MSE when the model predicts through a random group element), used
#: whenever held-out targets are given. An exact symmetry costs nothing in
#: expectation, whatever the model; below `exact` the cost is within what a
#: held-out estimate resolves (the data then support imposing the group outright).
#: From `approximate` on, predicting through the group at least doubles the error:
#: the data break it. In between the symmetry holds approximately: worth a soft
#: penalty, not a constraint.
COST_THRESHOLDS = {"exact": 0.2, "approximate": 1.0}


def verdict(error: float, thresholds: Mapping[str, float] = VERDICT_THRESHOLDS) -> str:
    """``"exact"``, ``"approximate"`` or ``"broken"`` for a measured value.

    Args:
        error: A relative equivariance error (default thresholds) or a symmetry
            cost (with ``thresholds=COST_THRESHOLDS``).
        thresholds: Upper bounds of ``"exact"`` and ``"approximate"``.
    """
    if error < thresholds["exact"]:
        return "exact"
    if error < thresholds["approximate"]:
        return "approximate"
    return "broken"


def symmetry_report(
    model: nn.Module | Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    groups: Sequence[str | Group],
    x: Tensor,
    *,
    y: Tensor | None = None,
    strengths: Mapping[str, float] | None = None,
    true_fn: Callable[[Tensor], Tensor] | None = None,
    truth: Mapping[str, str] | None = None,
    n_samples: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure every candidate symmetry of a trained model.

    For each group: the final strength (if tuned), the normalised weight residual
    per soft layer and pooled (if the model has soft layers), the relative
    equivariance error on held-out inputs `x`, the true function's error on the
    same inputs (if `true_fn`), the task's ground truth (if `truth`), with
    held-out targets `y` the symmetry cost (`symmetry_cost`) and its standard
    error, and a `verdict`.

    The verdict and the ranking (most-symmetric first) come from the symmetry
    cost when `y` is given (``verdict_basis: "cost"``, `COST_THRESHOLDS`): it
    asks whether the *data* respect the group, and is 0 in expectation for an
    exact symmetry even when the model itself is far from equivariant. Without
    `y` they come from the model's equivariance error (``"equivariance_error"``,
    `VERDICT_THRESHOLDS`), which says how equivariant the *model* is.

    Args:
        model: The trained model, `(batch, rep_in.dim) -> (batch, rep_out.dim)`.
        rep_in: Input layout.
        rep_out: Output layout.
        groups: Candidate groups, or their registry names; at least one.
        x: Held-out inputs, `(n, rep_in.dim)`.
        y: Their targets, `(n, rep_out.dim)`, for the symmetry cost.
        strengths: Final strengths by group name.
        true_fn: The ground-truth function, when known.
        truth: Ground-truth labels by group name, when known.
        n_samples: Group elements per input.
        seed: Seeds the group samples (same elements for model and truth).

    Returns:
        ``{"groups": [entry, ...], "verdict_basis": .., "thresholds": ..}``, each
        entry with ``name, strength, residual, residual_layers,
        equivariance_error, true_error, truth, cost, cost_stderr, averaged_mse,
        verdict, rank`` (the last three measured quantities None without `y`;
        ``averaged_mse`` is the held-out MSE of the model averaged over the
        group's sampled elements, `SymmetryCost.averaged_mse`). With `y` the
        report also has ``mse``, the model's own held-out MSE.

    Raises:
        ValueError: For an empty list of groups.
        TypeError: For groups that are neither `Group`s nor names.
    """
    groups = as_groups(groups)
    if not groups:
        raise ValueError("symmetry_report needs at least one candidate group")
    residuals = _residuals(model)
    entries = []
    mse = None
    for G in groups:
        name = G.name
        scale = G.sample_scale

        def error(f: Callable[[Tensor], Tensor], G=G, scale=scale) -> float:
            gen = torch.Generator().manual_seed(seed)
            return equivariance_error(f, rep_in, rep_out, G, x, n_samples,
                                      generator=gen, scale=scale)  # fmt: skip

        err = error(model)
        cost = None
        if y is not None:
            gen = torch.Generator().manual_seed(seed)
            cost = symmetry_cost(model, rep_in, rep_out, G, x, y, n_samples,
                                 generator=gen, scale=scale)  # fmt: skip
            mse = cost.mse
        entries.append({
            "name": name,
            "strength": None if strengths is None else strengths.get(name),
            "residual": residuals.get(name, {}).get("total"),
            "residual_layers": residuals.get(name, {}).get("layers"),
            "equivariance_error": err,
            "true_error": None if true_fn is None else error(true_fn),
            "truth": None if truth is None else truth.get(name),
            "cost": None if cost is None else cost.cost,
            "cost_stderr": None if cost is None else cost.stderr,
            "averaged_mse": None if cost is None else cost.averaged_mse,
        })  # fmt: skip
    basis = "equivariance_error" if y is None else "cost"
    thresholds = VERDICT_THRESHOLDS if y is None else COST_THRESHOLDS
    for entry in entries:
        entry["verdict"] = verdict(entry[basis], thresholds)
    entries.sort(key=lambda e: e[basis])
    for rank, entry in enumerate(entries, start=1):
        entry["rank"] = rank
    return {"groups": entries, "verdict_basis": basis, "thresholds": dict(thresholds),
            "mse": mse}  # fmt: skip


def _residuals(model: nn.Module | Callable) -> dict[str, dict[str, Any]]:
    if not isinstance(model, nn.Module):
        return {}
    try:
        return weight_residuals(model)
    except ValueError:  # no soft layers: weight residuals do not apply
        return {}


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "–" if value is None else format(value, spec)


def render_markdown(report: Mapping[str, Any], title: str = "Symmetry report") -> str:
    """The report as Markdown: a one-line summary, the ranked table and the verdict
    rule."""
    has_cost = report.get("verdict_basis") == "cost"
    cost_head = " cost (±se) | MSE averaged over G |" if has_cost else ""
    lines = [
        f"# {title}",
        "",
        summary_line(report),
        "",
        f"| rank | group | verdict |{cost_head} equivariance error | true error "
        "| truth | strength | weight residual |",
        "|---|---|---|" + ("---|---|" if has_cost else "") + "---|---|---|---|---|",
    ]
    for e in report["groups"]:
        cost = f" {_fmt_cost(e)} | {e['averaged_mse']:.4g} |" if has_cost else ""
        lines.append(
            f"| {e['rank']} | {e['name']} | **{e['verdict']}** |{cost} "
            f"{_fmt(e['equivariance_error'])} | {_fmt(e['true_error'])} "
            f"| {e['truth'] or '–'} | {_fmt(e['strength'], '.3g')} "
            f"| {_fmt(e['residual'], '.3g')} |"
        )
    return "\n".join([*lines, "", _rule(report), ""])


def summary_line(report: Mapping[str, Any]) -> str:
    """One sentence: the groups under each verdict, most symmetric first, and, when
    the top group is exact and the report has costs, what averaging over it does to
    the held-out MSE.

    Example:
        >>> groups = [{"name": "O2z", "verdict": "exact"},
        ...           {"name": "O3", "verdict": "broken"}]
        >>> summary_line({"verdict_basis": "equivariance_error", "groups": groups})
        '**Exact:** O2z. **Approximate:** none. **Broken:** O3.'
    """
    groups = report["groups"]
    parts = []
    for label in ("exact", "approximate", "broken"):
        names = [e["name"] for e in groups if e["verdict"] == label]
        parts.append(f"**{label.capitalize()}:** {', '.join(names) or 'none'}.")
    top = groups[0] if groups else None
    if (
        top is not None
        and top["verdict"] == "exact"
        and report.get("verdict_basis") == "cost"
        and report.get("mse")
    ):
        change = top["averaged_mse"] / report["mse"] - 1
        parts.append(
            f"Averaging the model over {top['name']} changes its held-out MSE by "
            f"{change:+.0%} (`softeq.regularizers.GroupAveraged`)."
        )
    return " ".join(parts)


def _rule(report: Mapping[str, Any]) -> str:
    """The paragraph under the table: how the verdicts were made."""
    t = report["thresholds"]
    if report.get("verdict_basis") == "cost":
        rule = (
            "Verdicts from the symmetry cost, the relative increase of held-out MSE "
            "when the model predicts through a random group element, "
            "ρ_out(g)⁻¹ f(ρ_in(g)x) instead of f(x): an exact symmetry costs "
            f"nothing in expectation, whatever the model. Exact below {t['exact']} "
            f"(+{t['exact']:.0%} MSE), approximate below {t['approximate']}, broken "
            "from there on (the error at least doubles). The model's own held-out "
            f"MSE is {report['mse']:.4g}; the MSE of its average over each group's "
            "sampled elements is listed beside the cost (below it: averaging over "
            "the group would help). "
        )
    else:
        rule = (
            "Verdicts from the held-out relative equivariance error: exact below "
            f"{t['exact']}, approximate below {t['approximate']}, broken above. "
        )
    return (
        rule + "The equivariance error is ‖f(ρ_in(g)x) − ρ_out(g)f(x)‖ / "
        "(‖f(ρ_in(g)x)‖ + ‖ρ_out(g)f(x)‖), averaged over held-out inputs and sampled "
        "group elements; the weight residual is ‖(I − P)w‖² / ‖w‖² over all soft "
        "layers."
    )


def _fmt_cost(entry: Mapping[str, Any]) -> str:
    return f"{entry['cost']:+.3f} (±{entry['cost_stderr']:.3f})"
