"""Verdicts: exact, approximate, broken or undetermined, from an interval."""

from __future__ import annotations

from collections.abc import Mapping

#: Verdict thresholds on the breaking (`SymmetryCost.breaking`: the share of the
#: targets' variance that no equivariant function can explain), for the data and
#: for the ground truth alike. Below `exact` (1 % of Var(y)) imposing the group
#: costs less than any model of these tasks resolves: impose it. From `broken`
#: (a quarter of Var(y)) on, a model constrained to the group loses at least a
#: quarter of what there is to explain: drop it. In between, a soft penalty.
BREAKING_THRESHOLDS = {"exact": 0.01, "broken": 0.25}

#: Verdict thresholds on a model's relative equivariance error (held-out inputs),
#: used when no held-out targets are given: they say how equivariant the *model*
#: is, not the data. The relative error is scale-free and at most 1 (0.5 for
#: unrelated outputs of equal norm).
VERDICT_THRESHOLDS = {"exact": 0.02, "approximate": 0.15}

#: A model whose own relative equivariance error for a group is below this is
#: built or trained to respect it: its breaking is 0 whatever the data, so it is
#: not evidence that the data respect the group.
CONSTRAINED_ERROR = 1e-3

#: A breaking read where more than this share of the moved inputs lie outside the
#: data (`SymmetryCost.outside_data`; 0.05 where the group preserves the inputs'
#: distribution) measures how the model extrapolates, not the data: the report
#: judges no group on it (undetermined). Five times the chance rate; the
#: synthetic suites' inputs read 0.04-0.08, the planets' windows of one system
#: 1.0 for every candidate, upright people tipped over 0.7-0.9.
OUTSIDE_DATA_THRESHOLD = 0.25

#: Two-sided 95 % normal quantile of the verdict intervals.
Z_95 = 1.959964


def verdict(error: float, thresholds: Mapping[str, float] = VERDICT_THRESHOLDS) -> str:
    """``"exact"``, ``"approximate"`` or ``"broken"`` for a point value: a relative
    equivariance error (default thresholds), or a ground truth's breaking (with
    ``thresholds=BREAKING_THRESHOLDS``, upper bound of "exact" and lower bound of
    "broken").

    Example:
        >>> verdict(0.01), verdict(0.2, BREAKING_THRESHOLDS)
        ('exact', 'approximate')
    """
    if "broken" in thresholds:
        return interval_verdict(error, error, thresholds)
    if error < thresholds["exact"]:
        return "exact"
    if error < thresholds["approximate"]:
        return "approximate"
    return "broken"


def interval_verdict(
    low: float, high: float, thresholds: Mapping[str, float] = BREAKING_THRESHOLDS
) -> str:
    """The verdict of an interval [low, high] of the breaking.

    ``"exact"`` when it lies below the exact threshold, ``"broken"`` when it lies
    at or above the broken one, ``"approximate"`` when it lies between them, and
    ``"undetermined"`` when it straddles a threshold: the data cannot tell.

    Example:
        >>> interval_verdict(-0.002, 0.004), interval_verdict(0.02, 0.1)
        ('exact', 'approximate')
        >>> interval_verdict(0.3, 0.9), interval_verdict(-0.05, 0.1)
        ('broken', 'undetermined')
    """
    if low > high:
        raise ValueError(f"interval_verdict: low {low} is above high {high}")
    exact, broken = thresholds["exact"], thresholds["broken"]
    if high < exact:
        return "exact"
    if low >= broken:
        return "broken"
    if low >= exact and high < broken:
        return "approximate"
    return "undetermined"


def inputs_to_decide(
    estimate: float,
    half_width: float,
    n_inputs: int,
    thresholds: Mapping[str, float] = BREAKING_THRESHOLDS,
) -> int | None:
    """Held-out inputs an interval of the same spread per input would need to
    clear the threshold it straddles (the half-width shrinks as $1/\\sqrt n$);
    None when the estimate sits on a threshold (no amount of data decides)."""
    inside = [t for t in thresholds.values() if abs(estimate - t) <= half_width]
    distance = min((abs(estimate - t) for t in inside), default=half_width)
    if distance <= 1e-3 * max(half_width, 1e-12):
        return None
    return int(n_inputs * (half_width / distance) ** 2) + 1
