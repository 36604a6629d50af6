"""Verdicts from intervals, and what would decide an undetermined one."""

from __future__ import annotations

import pytest

from softeq.metrics import BREAKING_THRESHOLDS, interval_verdict, verdict
from softeq.metrics._verdicts import inputs_to_decide


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-0.004, 0.009, "exact"),
        (0.011, 0.2, "approximate"),
        (0.25, 2.0, "broken"),
        (-0.01, 0.02, "undetermined"),  # straddles exact
        (0.2, 0.3, "undetermined"),  # straddles broken
        (-0.1, 0.5, "undetermined"),  # straddles both
    ],
)
def test_interval_verdicts(low, high, expected):
    assert interval_verdict(low, high) == expected


def test_a_point_verdict_on_the_breaking_is_a_zero_width_interval():
    t = BREAKING_THRESHOLDS
    values = (0.0, t["exact"] - 1e-9, t["exact"], t["broken"] - 1e-9, t["broken"])
    assert [verdict(v, t) for v in values] == [
        "exact", "exact", "approximate", "approximate", "broken",
    ]  # fmt: skip


def test_an_inverted_interval_is_an_error():
    with pytest.raises(ValueError, match="above high"):
        interval_verdict(0.2, 0.1)


def test_inputs_to_decide_scale_with_the_square_of_the_width():
    # estimate 0.02, half-width 0.02 straddles 0.01 at distance 0.01: four times
    # the inputs halve the width to the distance
    assert inputs_to_decide(0.02, 0.02, 1000) == 4001
    assert inputs_to_decide(0.01, 0.02, 1000) is None  # on the threshold
