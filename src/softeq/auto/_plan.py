"""The plan of a fit: per candidate group, impose it, keep it soft, or ignore it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..basis import is_subgroup
from ..groups import get
from ..metrics import BREAKING_THRESHOLDS, OUTSIDE_DATA_THRESHOLD

#: What a plan may do with a candidate group.
ACTIONS = ("impose", "soft", "ignore")
#: Suffix of a candidate's `Fit.val_mse` key (and ``-hidden`` of its stage
#: folder) when ``hidden="choose"`` trained it with the hidden-layer prior.
HIDDEN_TAG = " (hidden)"


@dataclass(frozen=True)
class GroupChoice:
    """What the fitted model does with one candidate group, and why.

    Attributes:
        name: The group.
        action: ``"impose"`` (the model respects it by construction or by
            training: augmentation, averaging, hard layers), ``"soft"`` (a
            penalty of strength `strength`) or ``"ignore"`` (nothing).
        strength: The penalty's strength when soft, else None.
        via: How an imposed group is imposed (e.g. ``"augmentation by O2z"``),
            else None.
        verdict: The evidence report's verdict on the group.
        breaking: The evidence model's held-out breaking, with its 95 %
            interval `breaking_low`, `breaking_high`.
        reason: One sentence: the evidence for the choice.
        validation: For a group the fit tried imposing, the validation MSE of
            the best model imposing it divided by the unpenalised model's
            (`imposed_validation`): below 1 the held-out data welcome the
            symmetry whatever the evidence reads (an evidence model can read a
            symmetry of the data as broken because it extrapolates badly to
            transformed inputs), above 1 imposing it costs. None for a group
            not tried, and in records made before the field existed.
        outside_data: The share of the inputs the group moves that lie outside
            the data (`softeq.metrics.SymmetryCost.outside_data`; about 0.05
            where the group preserves the inputs' distribution); above
            `softeq.metrics.OUTSIDE_DATA_THRESHOLD` the evidence judges
            nothing (undetermined). None in records made before the field
            existed.
    """

    name: str
    action: str
    strength: float | None
    via: str | None
    verdict: str
    breaking: float | None
    breaking_low: float | None
    breaking_high: float | None
    reason: str
    validation: float | None = None
    outside_data: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def could_be_exact(entry: Mapping[str, Any]) -> bool:
    """Whether a report entry leaves room for an exact symmetry: called exact,
    or undetermined with a breaking interval reaching below the "exact"
    threshold and staying below the "broken" one."""
    if entry["verdict"] == "exact":
        return True
    low, high = entry.get("breaking_low"), entry.get("breaking_high")
    if entry["verdict"] != "undetermined" or low is None or high is None:
        return False
    return low < BREAKING_THRESHOLDS["exact"] and high < BREAKING_THRESHOLDS["broken"]


def imposed_group(key: str) -> str | None:
    """The group an imposed candidate's `Fit.val_mse` key names (``"impose
    O3"``, ``"impose+average O2z (hidden)"``), else None."""
    head, _, name = key.removesuffix(HIDDEN_TAG).partition(" ")
    return name if head in ("impose", "impose+average") and name else None


def imposed_validation(val_mse: Mapping[str, float]) -> dict[str, float]:
    """Per group the fit tried imposing, the validation MSE of its best
    imposed candidate (augmented or hard, averaged or not, with the hidden
    prior or without) divided by that of the unpenalised model (``"none"``):
    the held-out data's own reading of the symmetry. Empty without ``"none"``.
    """
    base = val_mse.get("none")
    if not base:
        return {}
    best: dict[str, float] = {}
    for key, mse in val_mse.items():
        name = imposed_group(key)
        if name is not None:
            best[name] = min(mse, best.get(name, float("inf")))
    return {name: mse / base for name, mse in best.items()}


def groups_to_impose(report: Mapping[str, Any], groups: Sequence[str]) -> list[str]:
    """The candidates to try imposing (one or two), the evidence's best cases:

    1. the largest group that could be exact (called exact, or undetermined
       with an interval reaching below the "exact" threshold, `could_be_exact`:
       one that is no proper subgroup of another such candidate; among several,
       the one with the lowest upper breaking bound);
    2. and, if it differs, the largest group called exact. On cossim:so3-scale
       an MLP's evidence calls Scale3 exact and leaves SO3xScale3, which
       contains it, undetermined: both are tried, and validation decides;
    3. failing both, the least broken group that is not broken (verdict
       approximate, or an interval ending below the "broken" threshold): on
       data whose symmetries all hold only approximately, a model trained
       with augmentation by one may still predict better than one trained
       without (an MLP on inertia:mixed: 1.1 with O2y augmentation, 3.4
       without), and validation decides.

    4. failing all three (every candidate reads broken), still the least broken
       one, and the largest candidate too when it differs (among unrelated
       largest ones, the lowest upper breaking bound): an evidence model can
       read a symmetry of the data as broken because it extrapolates badly to
       transformed inputs, and the further a group's elements move the inputs
       from the data, the more broken it reads. An MLP on the planets (orbits
       near one plane) reads every candidate broken, O2z least (breaking 1.2
       on `orbits`, 25 on `orbits:residual`) and O3 most, though gravity
       respects all of them exactly; validation then prefers augmentation by
       O3 on `orbits` (1.3-2.0e-5 against O2z's 3.2-6.5e-5) and by O2z on
       `orbits:residual` (1.0-1.1e-6 against O3's 2.8-3.2e-6). An augmented
       training that validation accepts or rejects is cheap next to keeping a
       bad model.

    Empty only when no breaking was measured. Imposing a group imposes its
    subgroups too.
    """
    entries = {e["name"]: e for e in report["groups"]}

    def largest(pool: list[str]) -> str | None:
        maximal = [
            g for g in pool
            if not any(h != g and is_subgroup(get(g), get(h)) for h in pool)
        ]  # fmt: skip
        if not maximal:
            return None
        return min(maximal, key=lambda g: entries[g]["breaking_high"] or 0.0)

    out: list[str] = []
    for pool in (
        [g for g in groups if could_be_exact(entries[g])],
        [g for g in groups if entries[g]["verdict"] == "exact"],
    ):
        best = largest(pool)
        if best is not None and best not in out:
            out.append(best)
    if out:
        return out
    unbroken = [g for g in groups if _not_broken(entries[g])]
    if unbroken:
        return [min(unbroken, key=lambda g: entries[g]["breaking"])]
    measured = [g for g in groups if entries[g]["breaking"] is not None]
    if not measured:
        return []
    least = min(measured, key=lambda g: entries[g]["breaking"])
    widest = largest(measured)
    return [least] if widest in (None, least) else [least, widest]


def _imposed_despite(entry: Mapping[str, Any]) -> str:
    """Why the fit imposes a group whose evidence (the report `entry`) does not
    call it exact: validation preferred it. Empty for an exact one."""
    name, verdict = entry["name"], entry["verdict"]
    if _leaves_data(entry):
        return (f" (the evidence cannot read {name}: it moves the inputs outside "
                "the data, where the evidence model extrapolates; the model "
                "imposing it fit the validation data best)")  # fmt: skip
    if verdict == "broken":
        return (f" (the evidence model reads {name} as broken, yet the model "
                "imposing it fit the validation data best: the evidence model may "
                "extrapolate badly to transformed inputs)")  # fmt: skip
    if verdict != "exact":
        return (f" (the evidence allows {name} only approximately; the imposed "
                "model fit the validation data best)")  # fmt: skip
    return ""


def _leaves_data(entry: Mapping[str, Any]) -> bool:
    """Whether the report leaves the group undetermined because the inputs it
    moves lie outside the data (`softeq.metrics.OUTSIDE_DATA_THRESHOLD`)."""
    share = entry.get("outside_data")
    undetermined = entry["verdict"] == "undetermined"
    return undetermined and share is not None and share > OUTSIDE_DATA_THRESHOLD


def _not_broken(entry: Mapping[str, Any]) -> bool:
    if entry["verdict"] == "approximate":
        return True
    high = entry.get("breaking_high")
    undetermined = entry["verdict"] == "undetermined" and high is not None
    return undetermined and high < BREAKING_THRESHOLDS["broken"]


def make_plan(
    report: Mapping[str, Any],
    groups: Sequence[str],
    chosen: str,
    *,
    imposed: str | None = None,
    via: str | None = None,
    strengths: Mapping[str, float] | None = None,
    val_mse: Mapping[str, float] | None = None,
) -> list[GroupChoice]:
    """The per-group plan of the chosen candidate model.

    Args:
        report: The evidence report (`softeq.metrics.symmetry_report`).
        groups: The candidates, in the user's order.
        chosen: ``"impose"``, ``"soft"``, ``"soft-per"`` (the soft stage with
            PER's tuner) or ``"none"``: the candidate model the validation loss
            chose.
        imposed: The imposed group (for ``"impose"``).
        via: How it is imposed (for ``"soft-per"``: how PER's tuner started).
        strengths: The soft model's strengths (for ``"soft"`` and
            ``"soft-per"``).
        val_mse: Every candidate's validation MSE (`Fit.val_mse`): each group
            tried as an imposed stage gets its `GroupChoice.validation`.
    """
    entries = {e["name"]: e for e in report["groups"]}
    validated = imposed_validation(val_mse or {})
    plan = []
    for name in groups:
        entry = entries[name]
        b, low, high = entry["breaking"], entry["breaking_low"], entry["breaking_high"]
        reading = f"verdict {entry['verdict']}" + (
            "" if b is None else f", breaking {b:.3g} [{low:.3g}, {high:.3g}]"
        )
        outside = entry.get("outside_data")
        if _leaves_data(entry):
            reading += f", {outside:.0%} of the inputs it moves outside the data"
        action, strength, how = "ignore", None, None
        if chosen == "impose" and imposed is not None:
            if name == imposed or is_subgroup(get(name), get(imposed)):
                action, how = "impose", via
                why = (
                    f"{reading}; imposed"
                    if name == imposed
                    else f"{reading}; a subgroup of the imposed {imposed}"
                )
                why += _imposed_despite(entries[imposed])
            else:
                why = f"{reading}; not a subgroup of the imposed {imposed}"
        elif chosen in ("soft", "soft-per") and strengths is not None:
            strength = float(strengths.get(name, 0.0))
            tuner = " (PER's tuner)" if chosen == "soft-per" else ""
            if strength > 0:
                action, how = "soft", via if chosen == "soft-per" else None
                why = f"{reading}; penalty strength {strength:.3g}{tuner}"
            elif chosen == "soft-per":
                strength = None
                why = f"{reading}; unpenalised: PER's tuner leaves the largest "
                why += "candidate free (the reference's rule)"
            else:
                strength, why = None, f"{reading}; dropped: the data break it"
        else:
            why = f"{reading}; the unpenalised model fit the validation data best"
        ratio = validated.get(name)
        if ratio is not None:
            why += (f"; validation: imposing it scores {ratio:.3g}x the "
                    "unpenalised model")  # fmt: skip
        choice = GroupChoice(name, action, strength, how, entry["verdict"], b, low,
                             high, why, ratio, outside)  # fmt: skip
        plan.append(choice)
    return plan


def render_plan(plan: Sequence[GroupChoice], val_mse: Mapping[str, float]) -> str:
    """Markdown: the plan as a table, one row per candidate (what the model does
    with it, how, the evidence's verdict and breaking, and the held-out
    reading `GroupChoice.validation` of a group the fit tried imposing), a note
    for each group whose two readings disagree (`disagreements`), then every
    candidate model's validation MSE, best first."""

    def number(x: float | None) -> str:
        return "–" if x is None else f"{x:.3g}"

    lines = ["| group | action | how | evidence | breaking [95 % interval] "
             "| validation: imposed / unpenalised |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for c in plan:
        how = c.via or ("–" if c.strength is None else f"strength {c.strength:.3g}")
        interval = f"{number(c.breaking)} [{number(c.breaking_low)}, "
        interval += f"{number(c.breaking_high)}]"
        lines.append(f"| {c.name} | {c.action} | {how} | {c.verdict} | {interval} "
                     f"| {number(c.validation)} |")  # fmt: skip
    notes = disagreements(plan)
    if notes:
        lines += ["", "Where the two readings disagree:", ""]
        lines += [f"- {note}" for note in notes]
    ranked = sorted(val_mse.items(), key=lambda kv: kv[1])
    lines += ["", "Validation MSE of each candidate model, best first: "
              + ", ".join(f"{k} {v:.4g}" for k, v in ranked) + "."]  # fmt: skip
    return "\n".join(lines)


def disagreements(plan: Sequence[GroupChoice]) -> list[str]:
    """One sentence per group whose evidence verdict and held-out reading
    (`GroupChoice.validation`) point opposite ways: read broken, yet imposing
    it lowers the validation MSE (ratio < 1); or read exact, yet imposing it
    raises it (ratio > 1). Approximate and undetermined groups get none (an
    approximate symmetry can help when imposed: the readings do not conflict).

    Example:
        >>> c = GroupChoice("O3", "impose", None, "augmentation by O3", "broken",
        ...                 2.4, 2.0, 2.8, "", validation=6e-4)
        >>> disagreements([c])[0][:60]
        'O3: the evidence reads it broken (2.4), yet imposing it scor'
    """
    notes = []
    for c in plan:
        if c.validation is None or c.breaking is None:
            continue
        head = (f"{c.name}: the evidence reads it {c.verdict} ({c.breaking:.2g}), "
                f"yet imposing it scores {c.validation:.2g}x the unpenalised "
                "model's validation MSE")  # fmt: skip
        if c.verdict == "broken" and c.validation < 1:
            notes.append(head + ": the held-out data welcome it (an evidence "
                         "model that extrapolates badly to transformed inputs "
                         "reads a symmetry of the data as broken).")  # fmt: skip
        elif c.verdict == "exact" and c.validation > 1:
            notes.append(head + ": imposing it costs this model although the "
                         "evidence finds no breaking.")  # fmt: skip
    return notes
