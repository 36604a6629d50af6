from __future__ import annotations

import pytest

from softeq.regularizers import ConstantTuner, PERTuner

GROUPS = ["O3", "O2x", "O2y", "O2z"]
R = {"O3": 2.0, "O2x": 0.5, "O2y": 1.0, "O2z": 0.1}


def test_constant_tuner_zeroes_the_largest_group_and_round_trips():
    tuner = ConstantTuner(GROUPS, init=5.0)
    assert tuner.strengths == {"O3": 0.0, "O2x": 5.0, "O2y": 5.0, "O2z": 5.0}
    tuner.step(0, R)
    assert tuner.strengths["O2x"] == 5.0
    other = ConstantTuner(GROUPS, init=1.0)
    other.load_state_dict(tuner.state_dict())
    assert other.strengths == tuner.strengths
    assert ConstantTuner(["O5"], init=2.0).strengths == {"O5": 2.0}
    with pytest.raises(ValueError, match="expected"):
        ConstantTuner(["A", "B"]).load_state_dict(tuner.state_dict())
    with pytest.raises(ValueError, match=">= 0"):
        ConstantTuner(GROUPS, init=-1.0)


def test_per_tuner_rescales_once_with_the_reference_rule():
    tuner = PERTuner(GROUPS, init=100.0, adjust_at=60, power=2, warmup=50)
    for epoch in range(200):
        tuner.step(epoch, R)
        if epoch + 1 < 60:
            assert tuner.strengths["O2x"] == 100.0
    # R_min over groups with non-zero strength: 0.1 (O2z); O3 stays 0
    assert tuner.strengths == pytest.approx(
        {"O3": 0.0, "O2x": 100 * 0.2**2, "O2y": 100 * 0.1**2, "O2z": 100.0}
    )
    assert tuner.fired


def test_per_tuner_replaces_the_whole_vector_when_any_component_drops():
    tuner = PERTuner(["G", "A", "B"], init=1.0, adjust_at=4, power=1, warmup=0)
    tuner.step(0, {"G": 9.0, "A": 1.0, "B": 4.0})
    tuner.step(1, {"G": 9.0, "A": 0.5, "B": 8.0})  # A drops: B's 8 is stored too
    tuner.step(
        2, {"G": 9.0, "A": 0.9, "B": 1.0}
    )  # nothing drops below (0.5, 8)? B does
    tuner.step(3, {"G": 9.0, "A": 2.0, "B": 3.0})  # nothing drops: kept
    assert tuner.min_penalties == [9.0, 0.9, 1.0]
    assert tuner.strengths == pytest.approx({"G": 0.0, "A": 1.0, "B": 0.9})


def test_per_tuner_is_a_no_op_without_enough_collections():
    tuner = PERTuner(GROUPS, init=100.0, adjust_at=50, warmup=50)
    for epoch in range(100):
        tuner.step(epoch, R)
    assert tuner.strengths["O2x"] == 100.0 and not tuner.fired


def test_per_tuner_window_mode_collects_only_before_adjust_at():
    tuner = PERTuner(GROUPS, init=1.0, adjust_at=300, warmup=50, window=True)
    for epoch in range(150):
        tuner.step(epoch, R)
    assert tuner.calls == 0
    for epoch in range(150, 301):
        tuner.step(epoch, R)
    assert tuner.calls == 101 and tuner.fired


def test_per_tuner_state_round_trip_mid_run():
    a = PERTuner(GROUPS, init=100.0, adjust_at=60, warmup=50)
    b = PERTuner(GROUPS, init=100.0, adjust_at=60, warmup=50)
    for epoch in range(55):
        a.step(epoch, R)
    b.load_state_dict(a.state_dict())
    for epoch in range(55, 70):
        a.step(epoch, R)
        b.step(epoch, R)
    assert a.strengths == b.strengths and a.state_dict() == b.state_dict()
    with pytest.raises(ValueError, match="adjust_at"):
        PERTuner(GROUPS, adjust_at=0)


def test_orbit_tuner_uses_the_ratio_rule_on_orbit_errors():
    from softeq.regularizers import OrbitTuner

    tuner = OrbitTuner(GROUPS, init=1.0, adjust_at=2, power=1, warmup=0)
    for epoch in range(2):
        tuner.step(epoch, {"O3": 4.0, "O2x": 2.0, "O2y": 8.0, "O2z": 1.0})
    assert tuner.strengths == pytest.approx(
        {"O3": 0.0, "O2x": 0.5, "O2y": 0.125, "O2z": 1.0}
    )
