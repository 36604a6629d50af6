from __future__ import annotations

import gc
import weakref

import pytest
import torch

from softeq.groups import get
from softeq.nn import SoftLinear
from softeq.regularizers import (
    ConstantTuner,
    EvidenceTuner,
    OrbitTuner,
    PERTuner,
    ProjectionPenalty,
)
from softeq.reps import parse

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


@pytest.mark.parametrize(
    "R",
    [
        {"O3": 0.05, "O2x": 0.5, "O2y": 1.0, "O2z": 0.1},  # O3 the smallest
        {"O3": 0.3, "O2x": 0.5, "O2y": 1.0, "O2z": 0.1},  # O3 in the middle
    ],
    ids=["largest-group-smallest-R", "largest-group-middle-R"],
)
def test_per_tuner_takes_r_min_over_groups_with_non_zero_strength(R):
    """O3 (strength 0) does not have the largest residual. Where its R is the
    smallest, taking it as R_min would lower O2z's strength too; R_min is O2z's."""
    tuner = PERTuner(GROUPS, init=10.0, adjust_at=3, power=2)
    for epoch in range(3):
        tuner.step(epoch, R)
    assert tuner.fired
    assert tuner.strengths == pytest.approx(
        {"O3": 0.0, "O2x": 10 * (0.1 / 0.5) ** 2, "O2y": 10 * (0.1 / 1.0) ** 2,
         "O2z": 10.0}
    )  # fmt: skip


@pytest.mark.parametrize("adjust_at", [1, 2, 38, 50, 51, 75, 2000])
def test_per_tuner_warmup_scales_with_adjust_at_so_that_it_fires(adjust_at):
    tuner = PERTuner(GROUPS, init=100.0, adjust_at=adjust_at)
    assert tuner.warmup == min(50, adjust_at - 1)  # the reference's 50 when > 50
    for epoch in range(adjust_at - 1):
        tuner.step(epoch, {g: 2.0 for g in GROUPS})  # the warm-up is ignored
        assert not tuner.fired
    tuner.step(adjust_at - 1, R)
    assert tuner.fired and tuner.strengths == pytest.approx(
        {"O3": 0.0, "O2x": 100 * 0.2**2, "O2y": 100 * 0.1**2, "O2z": 100.0}
    )


@pytest.mark.parametrize(
    "kwargs, collected",
    [
        (dict(adjust_at=50, warmup=50), 50),
        (dict(adjust_at=10, warmup=30), 10),
        (dict(adjust_at=300, warmup=100, window=True), 100),
    ],
    ids=["warmup-equals-adjust-at", "warmup-after-adjust-at", "window"],
)
def test_a_per_tuner_that_could_never_rescale_is_refused(kwargs, collected):
    with pytest.raises(
        ValueError, match=f"never rescale.*expected warmup < {collected}"
    ):
        PERTuner(GROUPS, **kwargs)


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


# -- every tuner: step(epoch, penalties) with numbers or tensors ----------------------

TUNERS = {
    "constant": lambda names: ConstantTuner(names, init=2.0),
    "per": lambda names: PERTuner(names, init=2.0, adjust_at=2, warmup=0),
    "orbit": lambda names: OrbitTuner(names, init=2.0, adjust_at=2, warmup=0),
    "evidence": lambda names: EvidenceTuner(names, init=2.0, weight_decay=1e-3,
                                            n_targets=40, every=1),
}  # fmt: skip


def _soft_layer(generator):
    G = get("O3")
    return SoftLinear(parse("2*V", G), parse("V", G), ["O3", "O2x", "O2z"],
                      generator=generator).double()  # fmt: skip


def _run(tuner, layer, as_tensors, generator):
    """Two epochs of `step` with the layer's differentiable penalties (as they come
    from `ProjectionPenalty()`, or read as floats first); weak references to the
    tensors passed."""
    penalty = ProjectionPenalty(layer)
    x = torch.randn(16, 6, dtype=torch.float64, generator=generator)
    refs = []
    for epoch in range(2):
        terms = penalty()  # attached to the graph of the layer's weights
        mse = layer(x).square().mean()
        assert all(t.requires_grad for t in terms.values()) and mse.requires_grad
        if not as_tensors:
            terms = {k: v.detach().item() for k, v in terms.items()}
            mse = mse.detach().item()
        else:
            refs += [weakref.ref(t) for t in terms.values()] + [weakref.ref(mse)]
        tuner.step(epoch, terms, layer, train_mse=mse, inputs=x)
        del terms, mse
    return refs


@pytest.mark.parametrize("kind", TUNERS)
def test_tuners_read_penalty_tensors_as_numbers_and_keep_no_graph(kind):
    names = ["O3", "O2x", "O2z"]
    layer = _soft_layer(torch.Generator().manual_seed(0))
    from_floats, from_tensors = TUNERS[kind](names), TUNERS[kind](names)
    _run(from_floats, layer, False, torch.Generator().manual_seed(1))
    refs = _run(from_tensors, layer, True, torch.Generator().manual_seed(1))
    gc.collect()
    assert refs and all(ref() is None for ref in refs)  # nothing kept alive
    assert from_tensors.state_dict() == from_floats.state_dict()
    assert all(type(v) is float for v in from_tensors.strengths.values())
    if kind != "constant":  # the step did something with the values it read
        assert from_tensors.strengths != TUNERS[kind](names).strengths


@pytest.mark.parametrize("kind", TUNERS)
@pytest.mark.parametrize(
    "epoch, penalties, message",
    [
        (0, {"O3": 1.0}, r"missing \['O2z'\]"),
        (0, {"O3": 1.0, "O2z": torch.ones(2)}, "must be a scalar"),
        (0, {"O3": 1.0, "O2z": float("nan")}, "must be finite"),
        (0, {"O3": 1.0, "O2z": "0.5"}, "must be a number"),
        (-1, {"O3": 1.0, "O2z": 1.0}, "0-based epoch"),
        (1.0, {"O3": 1.0, "O2z": 1.0}, "0-based epoch"),
        (0, [1.0, 1.0], "mapping"),
    ],
    ids=["missing", "vector", "nan", "string", "negative-epoch", "float-epoch",
         "list"],
)  # fmt: skip
def test_tuners_reject_bad_step_arguments_alike(kind, epoch, penalties, message):
    tuner = TUNERS[kind](["O3", "O2z"])
    with pytest.raises(ValueError, match=message):
        tuner.step(epoch, penalties)
