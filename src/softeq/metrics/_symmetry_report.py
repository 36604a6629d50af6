"""The symmetry report: per candidate group, how strongly the symmetry holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..groups import Group, as_group, as_groups
from ..reps import Rep
from ._constraints import constraint_on, model_constraints
from ._cost import SymmetryCost, symmetry_cost
from ._equivariance import equivariance_error
from ._verdicts import (
    BREAKING_THRESHOLDS,
    CONSTRAINED_ERROR,
    OUTSIDE_DATA_THRESHOLD,
    VERDICT_THRESHOLDS,
    Z_95,
    inputs_to_decide,
    interval_verdict,
    verdict,
)
from ._weights import weight_residuals


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
    true_breakings: Mapping[str, float] | None = None,
    constraints: Sequence[tuple[Group | str, str]] = (),
    n_samples: int = 16,
    max_samples: int = 128,
    start_inputs: int = 4096,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure every candidate symmetry of a trained model, with a verdict that
    says how sure it is.

    For each group: the final strength (if tuned), the normalised weight residual
    per soft layer and pooled (if the model has soft layers), the relative
    equivariance error on held-out inputs `x`, the true function's error and
    breaking on the same inputs (if `true_fn`), the task's ground truth (if
    `truth`), and with held-out targets `y` the symmetry cost and the
    *breaking* with its 95 % interval (`SymmetryCost`).

    Verdicts, with `y` (``verdict_basis: "breaking"``): from the breaking's
    interval against `BREAKING_THRESHOLDS` (`interval_verdict`): "exact",
    "approximate", "broken", or "undetermined" when it straddles a threshold.
    An undetermined group is measured once more on all of `x` and `max_samples`
    elements when that is predicted to decide it (each part of the interval's
    variance shrinks with its own count); its entry then says what would decide
    it (``to_decide``). A model *constrained* toward a group $H$ (declared by
    its modules, `model_constraints`, or given in `constraints`; or a candidate
    for which its own equivariance error is below `CONSTRAINED_ERROR`) has a
    breaking of 0 for $H$ and its subgroups whatever the data, and fits only the
    $H$-symmetric part of the data, so its breaking for any group is no evidence:
    no group is called "exact" or "approximate" on it; "broken" stands (the
    model shows the breaking despite the constraint), anything else is
    "undetermined" (``constrained`` says how). Nor is a group judged when more
    than `OUTSIDE_DATA_THRESHOLD` of the inputs it moves lie outside the data
    (``outside_data``, `SymmetryCost.outside_data`): there the breaking
    measures how the model extrapolates, large or small (undetermined, and
    ``to_decide`` says so). Without `y` the verdicts come
    from the model's equivariance error (``"equivariance_error"``,
    `VERDICT_THRESHOLDS`), which says how equivariant the *model* is, not the
    data. Ranking: most symmetric first.

    Args:
        model: The trained model, `(batch, rep_in.dim) -> (batch, rep_out.dim)`.
        rep_in: Input layout.
        rep_out: Output layout.
        groups: Candidate groups, or their registry names; at least one.
        x: Held-out inputs, `(n, rep_in.dim)`.
        y: Their targets, `(n, rep_out.dim)`, for the cost and the breaking.
        strengths: Final strengths by group name.
        true_fn: The ground-truth function, when known.
        truth: Ground-truth labels by group name, when known.
        true_breakings: The ground truth's breaking by group name, measured
            already (`softeq.data.Task.true_breaking`); otherwise measured from
            `true_fn` on `x` (`true_breaking`).
        constraints: More ``(group, how)`` constraints than the model declares.
        n_samples: Group elements per input of the first measurement.
        max_samples: Group elements per input at most.
        start_inputs: Held-out inputs of the first measurement (all of `x` at
            most).
        seed: Seeds the group samples (same elements for model and truth).

    Returns:
        ``{"groups": [entry, ...], "verdict_basis", "thresholds", "mse",
        "unexplained"}``, each
        entry with ``name, strength, residual, residual_layers,
        equivariance_error, true_error, true_breaking, truth, cost, cost_stderr,
        averaged_mse, breaking, breaking_low, breaking_high, n_inputs,
        n_samples, outside_data, constrained, verdict, to_decide, rank`` (the
        measured quantities None without `y`; ``constrained`` says how the model is
        constrained toward the group, or None; ``to_decide`` what would decide
        an undetermined verdict, or None). ``mse`` is the model's held-out MSE
        on all of `x`, and ``unexplained`` that MSE as a share of Var(y) (the
        resolution of an "exact" verdict: breaking hidden in what the model
        does not fit cannot show); both None without `y`.

    Raises:
        ValueError: For an empty list of groups, or budgets below 1.
        TypeError: For groups that are neither `Group`s nor names.
    """
    groups = as_groups(groups)
    if not groups:
        raise ValueError("symmetry_report needs at least one candidate group")
    for name, value in (("n_samples", n_samples), ("max_samples", max_samples),
                        ("start_inputs", start_inputs)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"symmetry_report needs {name} >= 1, got {value!r}")
    declared = model_constraints(model) + [(as_group(g), h) for g, h in constraints]
    residuals = _residuals(model)
    mse = None if y is None else _mse(model, x, y)

    def error(f: Callable[[Tensor], Tensor], G: Group) -> float:
        gen = torch.Generator().manual_seed(seed)
        return equivariance_error(f, rep_in, rep_out, G, x, n_samples,
                                  generator=gen, scale=G.sample_scale)  # fmt: skip

    errors = {G.name: error(model, G) for G in groups}
    declared += [
        (G, f"its own equivariance error is {errors[G.name]:.1e} (below "
            f"{CONSTRAINED_ERROR:g}): built or trained to respect {G.name}")
        for G in groups
        if errors[G.name] < CONSTRAINED_ERROR and constraint_on(G, declared) is None
    ]  # fmt: skip
    entries = []
    for G in groups:
        constrained = _constraint(G, declared)
        entry = {
            "name": G.name,
            "strength": None if strengths is None else strengths.get(G.name),
            "residual": residuals.get(G.name, {}).get("total"),
            "residual_layers": residuals.get(G.name, {}).get("layers"),
            "equivariance_error": errors[G.name],
            "true_error": None if true_fn is None else error(true_fn, G),
            "true_breaking": (true_breakings or {}).get(G.name),
            "truth": None if truth is None else truth.get(G.name),
            "constrained": constrained,
        }
        if y is None:
            entry.update(dict.fromkeys(_MEASURED))
            entry["verdict"] = verdict(errors[G.name], VERDICT_THRESHOLDS)
        else:
            if entry["true_breaking"] is None and true_fn is not None:
                entry["true_breaking"] = true_breaking(
                    true_fn, rep_in, rep_out, G, x, seed=seed
                )
            budget = (n_samples, max_samples, start_inputs, seed)
            entry.update(_judge(model, rep_in, rep_out, G, x, y, constrained, *budget))
        entries.append(entry)
    basis = "equivariance_error" if y is None else "breaking"
    thresholds = VERDICT_THRESHOLDS if y is None else BREAKING_THRESHOLDS
    entries.sort(key=lambda e: e[basis])
    for rank, entry in enumerate(entries, start=1):
        entry["rank"] = rank
    unexplained = None
    if y is not None and mse is not None:
        variance = float((y.double() - y.double().mean(0)).square().mean())
        unexplained = mse / max(variance, 1e-300)
    return {"groups": entries, "verdict_basis": basis, "thresholds": dict(thresholds),
            "mse": mse, "unexplained": unexplained}  # fmt: skip


#: Entry keys measured from held-out targets (None without them).
_MEASURED = (
    "cost", "cost_stderr", "averaged_mse", "breaking", "breaking_low",
    "breaking_high", "n_inputs", "n_samples", "outside_data", "to_decide",
)  # fmt: skip


def true_breaking(
    true_fn: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    group: Group,
    x: Tensor,
    *,
    n_samples: int = 64,
    seed: int = 0,
) -> float:
    """The ground truth's breaking on inputs `x`: `SymmetryCost.breaking` of
    `true_fn` against its own values (so $L = 0$), with `n_samples` elements, in
    float64 — the statistic the report's verdicts use, from the true function."""
    x = x.double()
    gen = torch.Generator().manual_seed(seed)
    cost = symmetry_cost(true_fn, rep_in, rep_out, group, x, true_fn(x), n_samples,
                         generator=gen, scale=group.sample_scale,
                         outside=False)  # fmt: skip
    return cost.breaking


def _constraint(G: Group, declared: Sequence[tuple[Group, str]]) -> str | None:
    """How a constraint of the model bears on `G`, or None for a model without
    one. Toward `G` or a group containing it, the model is `G`-equivariant. Toward
    another group $H$, the model fits only the $H$-symmetric part of the data
    (for example, an O(2)_z-equivariant fit of targets that break O(2)_z is their
    O(2)_z average, which may respect O(3) where the targets do not), so its
    breaking for `G` is no evidence either."""
    if not declared:
        return None
    how = constraint_on(G, declared)
    if how is not None:
        return how
    outer, how = declared[0]
    return (
        f"{how}: constrained toward {outer.name}, the model fits only the part of "
        f"the data that {outer.name} allows"
    )


def _judge(
    model: Callable[[Tensor], Tensor],
    rep_in: Rep,
    rep_out: Rep,
    G: Group,
    x: Tensor,
    y: Tensor,
    constrained: str | None,
    n_samples: int,
    max_samples: int,
    start_inputs: int,
    seed: int,
) -> dict[str, Any]:
    """The measured entry fields of one group: the breaking's interval and its
    verdict, measured once more on all inputs and `max_samples` elements when
    undetermined and that is predicted to decide it."""
    n = x.shape[0]
    n_in, k = min(n, start_inputs), min(n_samples, max_samples)
    while True:
        gen = torch.Generator().manual_seed(seed)
        cost = symmetry_cost(model, rep_in, rep_out, G, x[:n_in], y[:n_in], k,
                             generator=gen, scale=G.sample_scale)  # fmt: skip
        low, high = cost.breaking_interval(Z_95)
        decided = interval_verdict(low, high)
        spent = n_in == n and k == max_samples
        if spent or decided != "undetermined" or constrained is not None:
            break
        # measure once more, on the whole budget, only where that is predicted to
        # decide: each part of the variance shrinks with its own count
        var_in = cost.breaking_se_inputs**2 * n_in / n
        var_el = cost.breaking_se_elements**2 * k / max_samples
        half = Z_95 * (var_in + var_el) ** 0.5
        if interval_verdict(cost.breaking - half, cost.breaking + half) == decided:
            break
        n_in, k = n, max_samples
    if constrained is not None and decided != "broken":
        decided = "undetermined"
    # off the data nothing is decided, and more inputs like these would not
    # decide it (a constrained model's own note comes first)
    outside = (
        outside_data(cost) if constrained is None or decided != "undetermined" else None
    )
    if outside is not None:
        decided = "undetermined"
    to_decide = None
    if decided == "undetermined":
        to_decide = _what_decides(cost, low, high, constrained, G.name, outside)
    return {
        "cost": cost.cost, "cost_stderr": cost.stderr,
        "averaged_mse": cost.averaged_mse, "breaking": cost.breaking,
        "breaking_low": low, "breaking_high": high, "n_inputs": cost.n_inputs,
        "n_samples": cost.n_samples, "outside_data": cost.outside_data,
        "verdict": decided, "to_decide": to_decide,
    }  # fmt: skip


def outside_data(cost: SymmetryCost) -> float | None:
    """The share of moved inputs outside the data when it is above
    `OUTSIDE_DATA_THRESHOLD` (the breaking then measures the model's
    extrapolation and decides nothing about the data), else None."""
    share = cost.outside_data
    return share if share is not None and share > OUTSIDE_DATA_THRESHOLD else None


def _what_decides(
    cost: SymmetryCost,
    low: float,
    high: float,
    constrained: str | None,
    name: str,
    outside: float | None = None,
) -> str:
    """One sentence: why a verdict is undetermined and what would decide it."""
    if outside is not None:
        return (
            f"{name} moves {outside:.0%} of the held-out inputs outside the data "
            "(farther from every other input than 95 % of the inputs lie from "
            f"their nearest neighbour; 5 % where {name} preserves the inputs' "
            f"distribution), so its breaking ({cost.breaking:.3g}) measures how the "
            "model extrapolates there, not the data: data that reach the moved "
            f"inputs would decide it, or imposing {name} and reading the validation "
            "MSE (`softeq.fit` does)"
        )
    return _undecided(cost, low, high, constrained, name)


def _undecided(
    cost: SymmetryCost, low: float, high: float, constrained: str | None, name: str
) -> str:
    """Why an interval or a constraint leaves a verdict undetermined, and what
    would decide it."""
    if constrained is not None:
        return (
            f"the model is constrained ({constrained}), so its breaking for {name} "
            "is no evidence about the data: measure with a model that is not (for "
            "example a plain MLP)"
        )
    half = (high - low) / 2
    needed = inputs_to_decide(cost.breaking, half, cost.n_inputs)
    if needed is None:
        return (
            f"the breaking sits on a threshold ({cost.breaking:.3g}); more data "
            "would not decide it"
        )
    parts = [f"about {needed} held-out inputs (measured on {cost.n_inputs})"]
    share = cost.mse / max(cost.variance, 1e-300)
    if share > BREAKING_THRESHOLDS["exact"]:
        parts.append(
            f"a model that fits better (its MSE is {share:.1%} of Var(y), which "
            "widens the interval)"
        )
    return " or ".join(parts)


def _mse(model: Callable[[Tensor], Tensor], x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        prediction = torch.cat([model(xb) for xb in x.split(4096)])
    return float((prediction.double() - y.double()).square().mean())


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
    """The report as Markdown: a one-line summary, the ranked table, a note per
    undetermined group (why, and what would decide it) and the verdict rule."""
    measured = report.get("verdict_basis") == "breaking"
    head = (
        " breaking [95 % interval] | outside data | true breaking | cost (±se) "
        "| MSE averaged over G |"
    )
    lines = [
        f"# {title}",
        "",
        summary_line(report),
        "",
        f"| rank | group | verdict |{head if measured else ''} equivariance error "
        "| true error | truth | strength | weight residual |",
        "|---" * (8 + 5 * measured) + "|",
    ]
    for e in report["groups"]:
        cells = ""
        if measured:
            cells = (
                f" {_fmt_breaking(e)} | {_fmt(e.get('outside_data'), '.0%')} "
                f"| {_fmt(e['true_breaking'], '.3g')} "
                f"| {_fmt_cost(e)} | {e['averaged_mse']:.4g} |"
            )
        lines.append(
            f"| {e['rank']} | {e['name']} | **{e['verdict']}** |{cells} "
            f"{_fmt(e['equivariance_error'])} | {_fmt(e['true_error'])} "
            f"| {e['truth'] or '–'} | {_fmt(e['strength'], '.3g')} "
            f"| {_fmt(e['residual'], '.3g')} |"
        )
    notes = [
        f"- **{e['name']}** is undetermined: {e['to_decide']}."
        for e in report["groups"]
        if e.get("to_decide")
    ]
    notes += [
        f"- **{e['name']}**: {e['constrained']}; broken despite the constraint."
        for e in report["groups"]
        if e.get("constrained") and e["verdict"] == "broken"
    ]
    notes += _resolution_note(report)
    return "\n".join([*lines, "", *([*notes, ""] if notes else []), _rule(report), ""])


def _resolution_note(report: Mapping[str, Any]) -> list[str]:
    """A note when some group reads exact while the model leaves more of Var(y)
    unexplained than the "exact" threshold: the verdict then says what the model
    shows, not what the data hold (a breaking confined to what the model does
    not fit cannot show in its predictions)."""
    share, t = report.get("unexplained"), report["thresholds"]
    exact = [e["name"] for e in report["groups"] if e["verdict"] == "exact"]
    if share is None or not exact or "broken" not in t or share <= t["exact"]:
        return []
    return [
        f"- **Resolution**: the model leaves {share:.1%} of Var(y) unexplained, more "
        f"than the exact threshold ({t['exact']:g}): {', '.join(exact)} read exact "
        "because the model's predictions show no breaking, and a breaking in what "
        "it does not fit cannot show. A model that fits better decides (on cossim, "
        "groups that the ground truth breaks by 2–3 % of Var(y) read exact for "
        "models leaving 5–15 % unexplained)."
    ]


def summary_line(report: Mapping[str, Any]) -> str:
    """One sentence: the groups under each verdict, most symmetric first, and, when
    the top group is exact and the report has held-out targets, what averaging
    over it does to the held-out MSE.

    Example:
        >>> groups = [{"name": "O2z", "verdict": "exact"},
        ...           {"name": "O3", "verdict": "broken"}]
        >>> summary_line({"verdict_basis": "equivariance_error", "groups": groups})
        '**Exact:** O2z. **Approximate:** none. **Broken:** O3.'
    """
    groups = report["groups"]
    parts = []
    for label in ("exact", "approximate", "broken", "undetermined"):
        names = [e["name"] for e in groups if e["verdict"] == label]
        if names or label != "undetermined":
            parts.append(f"**{label.capitalize()}:** {', '.join(names) or 'none'}.")
    top = groups[0] if groups else None
    if (
        top is not None
        and top["verdict"] == "exact"
        and report.get("verdict_basis") == "breaking"
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
    if report.get("verdict_basis") == "breaking":
        rule = (
            "Verdicts from the breaking, (L_G − L) / 2 Var(y): the increase of "
            "held-out MSE when the model predicts through a random group element, "
            "ρ_out(g)⁻¹ f(ρ_in(g)x) instead of f(x), as a share of the targets' "
            "variance; for a model that fits, the share of Var(y) that no "
            "equivariant function explains (0 for an exact symmetry, whatever the "
            f"model). Exact when its 95 % interval lies below {t['exact']}, broken "
            f"when it lies above {t['broken']}, approximate when it lies between, "
            "undetermined when it straddles a threshold, when the model is "
            "constrained toward the group and shows no breaking, or when more than "
            f"{OUTSIDE_DATA_THRESHOLD:.0%} of the moved inputs lie outside the data "
            "(outside data: farther from every other held-out input than 95 % of "
            "the inputs lie from their nearest neighbour; 5 % where the group "
            "preserves the inputs' distribution), where a breaking measures how the "
            "model extrapolates, not the data. The true breaking "
            "is the same statistic of the ground truth. The cost is (L_G − L) / L, "
            f"in units of the model's own held-out MSE ({report['mse']:.4g}); the "
            "MSE of the model's average over each group's sampled elements is "
            "listed beside it (below the MSE: averaging over the group would help). "
        )
    else:
        rule = (
            "Verdicts from the held-out relative equivariance error (no held-out "
            f"targets: how equivariant the model is): exact below {t['exact']}, "
            f"approximate below {t['approximate']}, broken above. "
        )
    return (
        rule + "The equivariance error is ‖f(ρ_in(g)x) − ρ_out(g)f(x)‖ / "
        "(‖f(ρ_in(g)x)‖ + ‖ρ_out(g)f(x)‖), averaged over held-out inputs and sampled "
        "group elements; the weight residual is ‖(I − P)w‖² / ‖w‖² over all soft "
        "layers."
    )


def _fmt_cost(entry: Mapping[str, Any]) -> str:
    return f"{entry['cost']:+.3f} (±{entry['cost_stderr']:.3f})"


def _fmt_breaking(entry: Mapping[str, Any]) -> str:
    return (
        f"{entry['breaking']:+.4f} [{entry['breaking_low']:+.4f}, "
        f"{entry['breaking_high']:+.4f}]"
    )
