"""`BreakingTuner`: strengths from each group's held-out breaking."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from softeq.data import get_task, inertia_tensor
from softeq.groups import get
from softeq.reps import parse
from softeq.train import BreakingTuner, TrainConfig, Trainer, strength_for_breaking

GROUPS = ["O3", "O2x", "O2y", "O2z"]


def inertia_reps():
    G = get("O3")
    return parse("5*V0+5*V", G), parse("V2", G)


def tuner(**kw) -> BreakingTuner:
    rep_in, rep_out = inertia_reps()
    args = dict(top=10.0, start=1, every=1, max_inputs=512)
    return BreakingTuner(GROUPS, rep_in, rep_out, **{**args, **kw})


def test_rule_is_top_for_zero_halves_at_half_and_drops_above_broken():
    assert strength_for_breaking(-0.5, 10.0, 0.01) == 10.0  # noise below 0 is 0
    assert strength_for_breaking(0.01, 10.0, 0.01) == pytest.approx(5.0)
    assert strength_for_breaking(0.09, 10.0, 0.01) == pytest.approx(1.0)
    assert strength_for_breaking(0.26, 10.0, 0.01, drop=0.25) == 0.0
    assert strength_for_breaking(0.26, 10.0, 0.01) > 0.0


def test_strengths_are_zero_until_the_first_measurement():
    t = tuner(start=5)
    x, y = get_task("inertia:o2z").x_val, get_task("inertia:o2z").y_val
    for epoch in range(4):
        t.step(epoch, {}, inertia_tensor_model, val=(x, y))
        assert set(t.strengths.values()) == {0.0} and t.diagnostics() == {}
    t.step(4, {}, inertia_tensor_model, val=(x, y))
    assert t.measurements == 1 and "breaking/O2z" in t.diagnostics()


def inertia_tensor_model(x: torch.Tensor) -> torch.Tensor:
    """The O(3)-equivariant plain inertia tensor."""
    return inertia_tensor(x).reshape(-1, 9)


def test_reads_the_data_o2z_exact_gets_top_broken_groups_are_dropped():
    task = get_task("inertia:o2z")
    t = tuner()
    t.step(0, {}, task.true_fn, val=(task.x_val, task.y_val))
    assert t.strengths["O2z"] == pytest.approx(10.0, rel=0.3)
    assert all(t.strengths[g] == 0.0 for g in ("O3", "O2x", "O2y"))


def test_no_symmetry_every_strength_ends_small_whatever_its_subspace():
    """A random dense teacher respects none of the groups: every breaking is
    large and every strength is dropped, O2z's (the largest equivariant
    subspace, which PER's ratio rule favours at weak strengths) included."""
    gen = torch.Generator().manual_seed(0)
    teacher = nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 9)).double()
    for p in teacher.parameters():
        nn.init.normal_(p, generator=gen)
    x = torch.randn(512, 20, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        y = teacher(x)
    t = tuner()
    t.step(0, {}, teacher, val=(x, y))
    assert max(t.strengths.values()) < 10.0 / 20, t.strengths
    assert t.strengths["O2z"] <= min(t.strengths.values()) + 1e-12


def test_strengths_only_go_down_after_the_first_reading():
    task = get_task("inertia:o2z")
    t = tuner()
    t.step(0, {}, task.true_fn, val=(task.x_val, task.y_val))
    before = dict(t.strengths)
    # an O(3)-equivariant model reads 0 for every group: no strength goes up
    t.step(1, {}, inertia_tensor_model, val=(task.x_val, task.y_val))
    assert all(t.strengths[g] <= before[g] for g in GROUPS)
    assert t.strengths == pytest.approx(before, rel=1e-4)
    state = t.state_dict()
    fresh = tuner()
    fresh.load_state_dict(state)
    assert fresh.strengths == t.strengths and fresh.measurements == 2


@pytest.mark.parametrize(
    "kw", [{"top": 0.0}, {"start": 0}, {"every": 0}, {"half": -1.0},
           {"n_samples": 0}, {"top": float("inf")}],
)  # fmt: skip
def test_bad_arguments_are_refused(kw):
    with pytest.raises(ValueError):
        tuner(**kw)


def test_needs_model_and_val_when_measuring():
    with pytest.raises(ValueError, match="val"):
        tuner().step(0, {}, None)


def test_trainer_with_the_breaking_tuner_and_an_orbit_penalty_logs_breakings():
    config = TrainConfig(task="inertia:o2z", model="mlp", tuner="breaking",
                         strength=10.0, orbit_penalty=True, orbit_rows=0.05,
                         preset="fast", epochs=3, adjust_at=1, tuner_every=1,
                         ch=16, num_layers=1, eval_inputs=4,
                         eval_transforms=2)  # fmt: skip
    trainer = Trainer(config)
    assert trainer.orbit is not None and trainer.orbit.rows == 0.05
    rows = [trainer.run_epoch()[0] for _ in range(3)]
    assert all("tuner/breaking/O2z" in row for row in rows)
    assert all(f"reg/orbit/{g}" in rows[-1] for g in GROUPS)
