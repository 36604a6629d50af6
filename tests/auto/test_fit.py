"""`softeq.fit`: evidence, soft, impose, choose on validation, test once."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

import softeq
from softeq.auto import (
    CANDIDATES,
    HIDDEN_TAG,
    PER_STRENGTHS,
    PER_WEIGHT_DECAYS,
    Fit,
    fit,
    fit_task,
    soft_stage,
)
from softeq.data import get_task
from softeq.nn.models import build
from softeq.regularizers import ProjectionPenalty
from softeq.train import (
    TrainConfig,
    Trainer,
    load_checkpoint,
    load_config,
    resolve_config,
)

GROUPS = ["O3", "O2x", "O2y", "O2z"]
SHORT = dict(preset="fast", epochs=4)


def arrays(spec: str) -> dict:
    """A task's splits as `fit` arguments: 400 training, 200 validation and 200
    test rows."""
    t = get_task(spec)
    return dict(x=t.x_train[:400], y=t.y_train[:400], x_val=t.x_val[:200],
                y_val=t.y_val[:200], x_test=t.x_test[:200],
                y_test=t.y_test[:200])  # fmt: skip


@pytest.fixture(scope="module")
def mixed():
    """inertia:mixed: every symmetry only approximate."""
    return arrays("inertia:mixed")


@pytest.fixture(scope="module")
def o2z():
    """inertia:o2z: only O(2) about z exact."""
    return arrays("inertia:o2z")


def run(data, **kw):
    return fit(
        **data, rep_in="5*V0+5*V", rep_out="V2", groups=GROUPS, **{**SHORT, **kw}
    )


def test_fit_returns_model_report_plan_and_history(o2z):
    result = run(o2z)
    assert isinstance(result, Fit) and softeq.fit is fit
    assert [c.name for c in result.plan] == GROUPS
    assert result.chosen in CANDIDATES and result.candidate in result.val_mse
    assert result.val_mse[result.candidate] == min(result.val_mse.values())
    stages = [h["stage"] for h in result.history]
    assert stages[0] == "none"
    assert all(s in ("none", "soft") or s.startswith("impose-") for s in stages)
    assert ("soft" in stages) == ("soft" in result.val_mse)
    assert {e["name"] for e in result.report["groups"]} == set(GROUPS)
    prediction = result.predict(o2z["x_test"])
    assert prediction.shape == (200, 9)
    mse = float((prediction - o2z["y_test"]).square().mean())
    assert result.test_mse == pytest.approx(mse, rel=1e-5)
    # and how it spreads over the test points (softeq.metrics.spread_fields)
    errors = (prediction - o2z["y_test"]).square().mean(dim=1)
    spread = result.test_metrics
    ordered = errors.sort().values  # 200 points: the median is between 99 and 100
    assert spread["median_se"] == pytest.approx(float(ordered[99:101].mean()), 1e-4)
    top = ordered[-2:]  # the worst 1 % of 200 points
    assert spread["worst_share"] == pytest.approx(float(top.sum() / errors.sum()), 1e-4)
    assert spread["trimmed_mse"] == pytest.approx(float(ordered[:-2].mean()), 1e-4)


def test_the_test_split_decides_nothing(o2z):
    """Every choice is made on train and validation data: test targets that are
    nonsense change the test MSE and nothing else."""
    spoiled = {**o2z, "y_test": 100 + 50 * torch.randn_like(o2z["y_test"])}
    a, b = run(o2z), run(spoiled)
    assert a.chosen == b.chosen and a.val_mse == b.val_mse
    assert [c.to_dict() for c in a.plan] == [c.to_dict() for c in b.plan]
    assert b.test_mse > 100 * a.test_mse


def test_the_evidence_finds_o2z_and_imposing_it_wins():
    """At a short budget on the whole of inertia:o2z, the evidence model calls
    O2z exact and the others broken; imposing O2z beats the unpenalised model
    on validation, and the plan imposes O2z and ignores the rest."""
    result = fit_task(get_task("inertia:o2z"), preset="fast", epochs=60)
    verdicts = {e["name"]: e["verdict"] for e in result.report["groups"]}
    assert verdicts == {"O3": "broken", "O2x": "broken", "O2y": "broken",
                        "O2z": "exact"}  # fmt: skip
    assert result.imposed == "O2z" and result.chosen.startswith("impose")
    assert result.val_mse[result.candidate] < 0.8 * result.val_mse["none"]
    assert {c.name: c.action for c in result.plan} == {
        "O3": "ignore",
        "O2x": "ignore",
        "O2y": "ignore",
        "O2z": "impose",
    }
    # the held-out data's own reading of each group tried: O2z welcomed
    validation = {c.name: c.validation for c in result.plan}
    assert validation["O2z"] == pytest.approx(
        min(result.val_mse["impose O2z"], result.val_mse["impose+average O2z"])
        / result.val_mse["none"]
    )
    assert validation["O2z"] < 0.8
    assert {g for g, v in validation.items() if v is not None} == {"O2z"}


def test_save_and_load_give_the_same_predictions(o2z, tmp_path):
    result = run(o2z)
    result.save(tmp_path / "fit" / "model.pt")
    loaded = Fit.load(tmp_path / "fit" / "model.pt")
    x = o2z["x_test"]
    assert torch.allclose(loaded.predict(x), result.predict(x))
    assert loaded.plan == result.plan and loaded.chosen == result.chosen


class Particles(nn.Module):
    """Permutation-invariant over the 5 particles (DeepSets)."""

    def __init__(self) -> None:
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(4, 32), nn.SiLU(), nn.Linear(32, 32))
        self.rho = nn.Sequential(nn.SiLU(), nn.Linear(32, 9))

    def forward(self, x):
        masses, positions = x[:, :5, None], x[:, 5:].reshape(-1, 5, 3)
        return self.rho(self.phi(torch.cat([masses, positions], -1)).sum(1))


def test_any_module_is_fitted_and_reloaded(mixed, tmp_path):
    module = Particles()
    result = run(mixed, model=module)
    assert result.history[0]["num_parameters"] == sum(
        p.numel() for p in module.parameters()
    )
    result.save(tmp_path / "own" / "model.pt")
    with pytest.raises(ValueError, match="fresh instance"):
        Fit.load(tmp_path / "own" / "model.pt")
    loaded = Fit.load(tmp_path / "own" / "model.pt", model=Particles())
    x = mixed["x_test"]
    assert torch.allclose(loaded.predict(x), result.predict(x))


def test_the_soft_stage_of_any_module_has_orbit_penalties_primed_by_evidence():
    """What `fit`'s soft stage builds for a module without soft layers: the
    orbit penalty on every candidate, strengths set by the evidence's readings
    (here: O2z respected, O2x slightly broken, O3 and O2y broken)."""
    config = TrainConfig(task="inertia:mixed", model="custom", preset="fast",
                         epochs=2, tuner="breaking", strength=1.0, adjust_at=2,
                         orbit_penalty=True, orbit_rows=1 / 48)  # fmt: skip
    trainer = Trainer(config, task=get_task("inertia:mixed"), model=Particles())
    assert trainer.orbit is not None and trainer.orbit.pool == 64
    trainer.tuner.update({"O3": 0.5, "O2x": 0.01, "O2y": 0.3, "O2z": -0.01})
    assert trainer.tuner.strengths == {"O3": 0.0, "O2x": 0.5, "O2y": 0.0, "O2z": 1.0}
    row, _ = trainer.run_epoch()
    assert row["reg/strength/O2z"] == 1.0 and row["reg/orbit/O2z"] > 0


def _held_out_baseline(task, epochs: int, **config):
    """`softeq train` (fast preset, seed 0) on the task a fit trains on: its
    validation split stands in for the test split. Returns the run's summary."""
    held_out = replace(task, x_test=task.x_val, y_test=task.y_val,
                       true_breaking=None)  # fmt: skip
    config = TrainConfig(task=task.name, preset="fast", epochs=epochs, seed=0,
                         **config)  # fmt: skip
    return Trainer(config, None, task=held_out).fit()


@pytest.mark.slow
def test_emlp_imposes_with_hard_layers(tmp_path):
    """`model="emlp"`: the evidence is an MLP's, the impose stage a hard EMLP for
    the exact group (no averaging: it is already equivariant); a fit whose
    chosen model is that EMLP reloads."""
    task = get_task("inertia:o2z")
    result = fit_task(task, model="emlp", preset="fast", epochs=60)
    stage = next(h for h in result.history if h["stage"] == "impose-O2z")
    # the impose stage trains exactly as `softeq train --model emlp --group O2z`
    baseline = _held_out_baseline(task, 60, model="emlp", group="O2z")
    assert stage["val_mse"] == baseline["val_mse"]
    assert stage["best_epoch"] == baseline["best_epoch"]
    assert stage["num_parameters"] != result.history[0]["num_parameters"]
    assert "impose O2z" in result.val_mse
    assert "impose+average O2z" not in result.val_mse
    rep_in, rep_out = get_task("inertia:o2z").reps()
    hard = build("emlp", rep_in, rep_out, GROUPS, group="O2z", ch=32, num_layers=1,
                 allocation="uniform", gate="plain")  # fmt: skip
    spec = {**result.spec, "chosen": "impose", "imposed": "O2z",
            "architecture": "emlp", "ch": 32, "num_layers": 1,
            "allocation": "uniform", "gate": "plain",
            "standardized": False}  # fmt: skip
    chosen = Fit(hard, result.report, result.plan, "impose", "O2z", result.val_mse,
                 None, {}, result.history, spec)  # fmt: skip
    chosen.save(tmp_path / "emlp.pt")
    x = get_task("inertia:o2z").x_test[:50]
    assert torch.allclose(Fit.load(tmp_path / "emlp.pt").predict(x), chosen.predict(x))


def test_load_refuses_what_is_not_a_saved_fit(tmp_path):
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a saved softeq fit"):
        Fit.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no saved fit"):
        Fit.load(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "kw, message",
    [({"model": "transformer"}, "model must be one of"),
     ({"preset": "paper"}, "preset"),
     ({"groups": ["O3", "nope"]}, "nope"),
     ({"rep_in": "4*V"}, "features"),
     ({"model": "mlp", "nonlinear_group": "O2z"},
      "nonlinear_group applies to model='per'"),
     ({"model": "emlp", "nonlinear_group": "O2z"},
      "nonlinear_group applies to model='per'"),
     ({"model": "per", "nonlinear_group": "SO3"}, "must be one of the candidates"),
     ({"model": "per", "nonlinear_group": "O2q"}, "must be one of the candidates"),
     ({"model": "per", "soft_tuner": "reference"}, "soft_tuner must be one of"),
     ({"model": "mlp", "per_strengths": 1.0}, "soft_tuner 'breaking' does not"),
     ({"model": "per", "soft_tuner": "breaking", "per_strengths": [1.0]},
      "soft_tuner 'breaking' does not"),
     ({"model": "per", "per_strengths": 0.0}, "per_strengths must be"),
     ({"model": "per", "per_strengths": [1.0, -2.0]}, "per_strengths must be"),
     ({"model": "per", "per_strengths": []}, "per_strengths must be"),
     ({"model": "per", "per_strengths": "100"}, "per_strengths must be"),
     ({"model": "per", "per_strengths": [float("inf")]}, "per_strengths must be"),
     ({"model": "per", "per_strengths": [True]}, "per_strengths must be"),
     ({"model": "per", "per_strengths": [1.0, 1]}, "per_strengths has repeats")],
)  # fmt: skip
def test_bad_arguments_raise_one_clear_error(o2z, kw, message):
    args = dict(rep_in="5*V0+5*V", rep_out="V2", groups=GROUPS, **SHORT)
    with pytest.raises(ValueError, match=message):
        fit(**o2z, **{**args, **kw})


@pytest.mark.slow
def test_per_uses_projection_penalties_and_reloads(mixed, tmp_path):
    result = run(mixed, model="per")
    soft = next(h for h in result.history if h["stage"] == "soft")
    assert set(soft["strengths"]) == set(GROUPS)
    assert max(soft["strengths"].values()) <= 100.0  # the projection penalty's top
    result.save(tmp_path / "per.pt")
    loaded = Fit.load(tmp_path / "per.pt")
    assert loaded.spec["architecture"] == "per"
    assert torch.allclose(
        loaded.predict(mixed["x_test"]), result.predict(mixed["x_test"])
    )


@pytest.mark.parametrize(
    ("soft", "penalty", "exact", "any_strength", "expected"),
    [
        (None, "orbit", True, True, False),  # an exact group: augmentation
        (True, "orbit", True, True, False),  # ... whatever the caller asks
        (True, "projection", False, False, False),  # every penalty dropped
        (None, "projection", False, True, True),
        (None, "orbit", False, True, False),  # augmentation beat it (docs/fit.md)
        (True, "orbit", False, True, True),
        (False, "projection", False, True, False),
    ],
)
def test_when_the_soft_stage_is_trained(soft, penalty, exact, any_strength, expected):
    assert soft_stage(soft, penalty, exact, any_strength) is expected


def test_the_soft_stage_changes_no_other_candidate(mixed):
    """Skipping the soft stage leaves every other stage as it was, to the bit:
    each stage seeds its own randomness. (10 epochs: enough for the evidence
    to call no group exact, so the soft stage may run.)"""
    with_soft = run(mixed, epochs=10, soft=True)
    without = run(mixed, epochs=10, soft=False)
    default = run(mixed, epochs=10)  # an MLP with a group to impose: no soft stage
    assert "soft" in with_soft.val_mse and "soft" not in without.val_mse
    rest = {k: v for k, v in with_soft.val_mse.items() if k != "soft"}
    assert rest == without.val_mse == default.val_mse
    # an MLP's soft stage has orbit penalties: the breaking tuner only
    assert "soft-per" not in with_soft.val_mse


def test_a_soft_emlps_fit_tries_both_soft_tuners_by_default(held):
    """`soft_tuner=None` means ``"choose"`` for ``model="per"``: the soft stage
    is trained with the breaking tuner and with PER's (on arrays, from each of
    `PER_STRENGTHS`)."""
    stages = [h["stage"] for h in held[False].history]
    per = [f"soft-per@{s:g}" for s in PER_STRENGTHS]
    assert stages[:5] == ["none", "soft", *per]
    assert {"soft", *per} <= set(held[False].val_mse)


def test_a_fit_on_arrays_starts_pers_tuner_from_each_reference_strength(held):
    """Arrays have no task family, so PER's tuner starts once from each of the
    reference's three strengths; validation chooses among every candidate, and
    a chosen ``soft-per`` model says which start it had."""
    result, folder = held[False], held["folders"][False]
    for s in PER_STRENGTHS:
        config = load_config(folder / f"soft-per@{s:g}" / "config.toml")
        assert (config.tuner, config.strength) == ("per", s)
        # with the weight decay the reference paired with that strength
        assert config.weight_decay == PER_WEIGHT_DECAYS[s]
    assert result.val_mse[result.candidate] == min(result.val_mse.values())
    if result.chosen == "soft-per":
        assert result.candidate == f"soft-per@{result.per_strength:g}"
        assert all(f"from strength {result.per_strength:g}" in c.via
                   for c in result.plan if c.action == "soft")  # fmt: skip
    else:
        assert result.per_strength is None


def test_one_per_strength_gives_one_plain_soft_per_stage(mixed, tmp_path):
    result = run(mixed, model="per", soft=True, soft_tuner="per", per_strengths=5.0,
                 out=tmp_path)  # fmt: skip
    stages = [h["stage"] for h in result.history]
    assert stages[:2] == ["none", "soft-per"] and "soft" not in stages
    config = load_config(tmp_path / "soft-per" / "config.toml")
    # a start the reference never used trains with the preset's weight decay
    assert config.strength == 5.0
    assert (
        config.weight_decay
        == load_config(tmp_path / "none" / "config.toml").weight_decay
    )
    assert "soft-per" in result.val_mse
    assert result.per_strength == (5.0 if result.chosen == "soft-per" else None)


@pytest.mark.parametrize("task", ["cossim:none", "emlp-inertia:1000", "inertia:o2z"])
def test_per_weight_decays_are_the_reference_protocols(task):
    """Each reference start's weight decay is what the training presets give
    PER on the family whose reference protocol starts there."""
    config = resolve_config(TrainConfig(task=task, model="per", preset="paper"))
    assert config.strength in PER_STRENGTHS
    assert PER_WEIGHT_DECAYS[config.strength] == config.weight_decay
    assert set(PER_WEIGHT_DECAYS) == set(PER_STRENGTHS)


def test_a_chosen_soft_per_models_key_carries_its_start(tmp_path):
    """`Fit.candidate` finds the ``soft-per@<strength>`` key (and its hidden
    twin's) from `Fit.per_strength`; saving and loading keep it."""
    val = {"none": 2.0, "soft-per@1": 1.5, "soft-per@100": 0.5,
           "soft-per@100" + HIDDEN_TAG: 0.7}  # fmt: skip
    result = Fit(nn.Linear(20, 9), {"groups": []}, [], "soft-per", None, val, None,
                 {}, [], {}, False, 100.0)  # fmt: skip
    assert result.candidate == "soft-per@100"
    twin = replace(result, hidden=True)
    assert twin.candidate == "soft-per@100" + HIDDEN_TAG
    assert replace(result, per_strength=None).candidate == "soft-per"
    assert result.to_dict()["per_strength"] == 100.0


@pytest.fixture(scope="module")
def held(mixed, tmp_path_factory):
    """SoftEMLP fits of inertia:mixed with the soft stage, the hidden prior
    off, on, and chosen on validation; ``held["folders"]`` their `out`s."""
    settings = (False, True, "choose")
    folders = {h: tmp_path_factory.mktemp(f"hidden-{h}") for h in settings}
    fits = {h: run(mixed, model="per", soft=True, hidden=h, out=folders[h])
            for h in settings}  # fmt: skip
    return {**fits, "folders": folders}


@pytest.mark.parametrize("model", ["mlp", "emlp", nn.Linear(20, 9)])
def test_hidden_needs_soft_layers(o2z, model):
    with pytest.raises(ValueError, match="hidden needs a model with SoftLinear"):
        run(o2z, model=model, hidden=True)


def test_hidden_holds_the_soft_emlps_hidden_layers_on_o3(held):
    """`hidden=True`: every stage after the evidence ends with its hidden soft
    layers on O(3)'s maps (the evidence stage, unpenalised, does not), while
    the output layer is left to the data."""
    result, tmp_path = held[True], held["folders"][True]
    stages = [h["stage"] for h in result.history]
    assert "soft" in stages and any(s.startswith("impose") for s in stages)
    hidden = {}
    for stage in stages:
        config = load_config(tmp_path / stage / "config.toml")
        assert config.hidden_strength == (0.0 if stage == "none" else 1e4)
        state = load_checkpoint(tmp_path / stage / "checkpoint.pt")
        weights = {k.removeprefix("model."): v for k, v in state["model"].items()}
        model = build("per", *get_task("inertia:mixed").reps(), GROUPS,
                      ch=config.ch, num_layers=config.num_layers)  # fmt: skip
        model.load_state_dict(weights)
        layers = ProjectionPenalty(model).per_layer()
        hidden[stage] = max(d["O3"] for d in layers[:-1])
        assert layers[-1]["O3"] > 1e-2 * hidden["none"], stage  # the output: free
    for stage in stages[1:]:
        assert hidden[stage] < 1e-4 * hidden["none"], stage


def test_hidden_choose_trains_both_twins_and_validation_picks(held, tmp_path):
    """``hidden="choose"``: the soft and imposed stages each trained without the
    prior (as `hidden=False` does, to the bit) and with it (as `hidden=True`
    does, keys tagged); the chosen candidate is the best on validation."""
    plain, on, both = held[False], held[True], held["choose"]
    assert (held["folders"]["choose"] / "soft-hidden" / "summary.json").is_file()
    twins = {k.removesuffix(HIDDEN_TAG): v for k, v in both.val_mse.items()
             if k.endswith(HIDDEN_TAG)}  # fmt: skip
    untagged = {k: v for k, v in both.val_mse.items() if not k.endswith(HIDDEN_TAG)}
    assert untagged == plain.val_mse
    assert twins == {k: v for k, v in on.val_mse.items() if k != "none"}
    assert len(twins) >= 2  # the soft stage and at least one imposed stage
    assert both.val_mse[both.candidate] == min(both.val_mse.values())
    assert both.hidden == both.candidate.endswith(HIDDEN_TAG)
    stages = [h["stage"] for h in both.history]
    assert {"soft", "soft-hidden"} <= set(stages)
    for h in both.history:
        assert h["hidden_strength"] == (1e4 if h["stage"].endswith("-hidden") else 0)
    assert not plain.hidden and on.hidden == (on.chosen != "none")
    both.save(tmp_path / "both.pt")
    loaded = Fit.load(tmp_path / "both.pt")
    assert (loaded.hidden, loaded.candidate) == (both.hidden, both.candidate)


def test_a_chosen_twin_says_so_in_the_plan(held):
    """Whichever twin wins, `Fit.hidden` and the imposed group's `via` agree."""
    for result in (held[False], held[True], held["choose"]):
        imposed = [c for c in result.plan if c.action == "impose"]
        for choice in imposed:
            assert ("hidden layers held on O3" in choice.via) == result.hidden


@pytest.mark.parametrize("hidden", ["yes", 1, None])
def test_hidden_takes_true_false_or_choose(o2z, hidden):
    with pytest.raises(ValueError, match="hidden must be True, False or 'choose'"):
        run(o2z, model="per", hidden=hidden)


@pytest.fixture(scope="module")
def so3_fit(tmp_path_factory):
    """A SoftEMLP fit of cossim:so3 with its nonlinearities built for SO3 (not
    the largest candidate, SO3xScale3) and the hidden prior on."""
    t = get_task("cossim:so3")
    out = tmp_path_factory.mktemp("so3-fit")
    result = fit(x=t.x_train[:300], y=t.y_train[:300], x_val=t.x_val[:150],
                 y_val=t.y_val[:150], x_test=t.x_test[:150], y_test=t.y_test[:150],
                 rep_in=t.rep_in, rep_out=t.rep_out, groups=list(t.groups),
                 model="per", hidden=True, nonlinear_group="SO3", soft=True,
                 out=out, **SHORT)  # fmt: skip
    return result, out, t


def test_nonlinear_group_builds_every_stage_for_it_and_holds_hidden_layers_on_it(
    so3_fit,
):
    """Every stage trains a SoftEMLP whose nonlinearities are SO3's; the stages
    after the evidence hold the hidden layers on SO3's maps (not SO3xScale3's)."""
    result, out, t = so3_fit
    stages = [h["stage"] for h in result.history]
    assert "soft" in stages and any(s.startswith("impose") for s in stages)
    residual = {}
    for stage in stages:
        config = load_config(out / stage / "config.toml")
        assert config.nonlinear_group == "SO3"
        state = load_checkpoint(out / stage / "checkpoint.pt")
        weights = {k.removeprefix("model."): v for k, v in state["model"].items()}
        model = build("per", *t.reps(), list(t.groups), ch=config.ch,
                      num_layers=config.num_layers,
                      nonlinear_group="SO3")  # fmt: skip
        model.load_state_dict(weights)
        layers = ProjectionPenalty(model).per_layer()
        residual[stage] = max(d["SO3"] for d in layers[:-1])
    for stage in stages[1:]:
        assert residual[stage] < 1e-4 * residual["none"], stage
    inner = result.model.model if hasattr(result.model, "model") else result.model
    assert inner.nonlinear_group.name == "SO3"
    for choice in result.plan:
        if choice.action == "impose":
            assert "hidden layers held on SO3" in choice.via


def test_a_fit_with_its_own_nonlinearities_reloads(so3_fit, tmp_path):
    result, _, t = so3_fit
    result.save(tmp_path / "fit.pt")
    loaded = Fit.load(tmp_path / "fit.pt")
    assert loaded.spec["nonlinear_group"] == "SO3"
    x = t.x_test[:64]
    assert torch.equal(loaded.predict(x), result.predict(x))


@pytest.fixture(scope="module")
def tuners_fit():
    """inertia:broken (no exact group: the soft stage runs) fitted with both soft
    tuners, and its task."""
    return _fit_with_both_tuners("per")


def _fit_with_both_tuners(model: str):
    """inertia:broken fitted with `model` and ``soft_tuner="choose"``, and the task."""
    task = get_task("inertia:broken")
    result = fit_task(task, model=model, preset="fast", epochs=6, soft_tuner="choose")
    return result, task


def _baseline_and_soft_per(result, task, model: str):
    """The `model` baseline trained with PER's tuner on the fit's held-out task,
    and the fit's ``soft-per`` stage."""
    summary = _held_out_baseline(task, 6, model=model, tuner="per")
    stage = next(h for h in result.history if h["stage"] == "soft-per")
    return summary, stage


def test_soft_tuner_choose_trains_both_soft_stages_and_validation_picks(tuners_fit):
    result, _ = tuners_fit
    stages = [h["stage"] for h in result.history]
    assert stages[:3] == ["none", "soft", "soft-per"]
    assert {"soft", "soft-per"} <= set(result.val_mse)
    assert result.val_mse[result.candidate] == min(result.val_mse.values())
    breaking, per = (next(h for h in result.history if h["stage"] == s)
                     for s in ("soft", "soft-per"))  # fmt: skip
    # PER's tuner: every candidate but the largest penalised, broken or not
    assert per["strengths"]["O3"] == 0.0
    assert all(per["strengths"][g] > 0 for g in GROUPS[1:])
    assert breaking["strengths"] != per["strengths"]
    assert set(CANDIDATES) >= {k.split(" ")[0] for k in result.val_mse}


def test_the_soft_stage_with_pers_tuner_is_the_per_baseline(tuners_fit):
    """The ``soft-per`` candidate trains exactly as `softeq train --model per
    --tuner per` does with the same seed: the fit holds PER's own model."""
    summary, stage = _baseline_and_soft_per(*tuners_fit, "per")
    assert stage["val_mse"] == summary["val_mse"]


@pytest.fixture(scope="module")
def orbit_tuners_fit():
    """inertia:broken fitted with an MLP and both soft tuners (PER's on orbit
    penalties), `soft` left to its default, and its task."""
    return _fit_with_both_tuners("mlp")


def test_naming_pers_tuner_for_an_mlp_trains_its_orbit_soft_stage(orbit_tuners_fit):
    result, _ = orbit_tuners_fit
    stages = [h["stage"] for h in result.history]
    assert "soft-per" in stages and "soft-per" in result.val_mse
    per = next(h for h in result.history if h["stage"] == "soft-per")
    # PER's rule on orbit penalties: every candidate but the largest penalised
    assert per["strengths"]["O3"] == 0.0
    assert all(per["strengths"][g] > 0 for g in GROUPS[1:])
    assert result.val_mse[result.candidate] == min(result.val_mse.values())


def test_the_orbit_soft_stage_with_pers_tuner_is_the_mlp_orbit_baseline(
    orbit_tuners_fit,
):
    """The MLP's ``soft-per`` candidate trains exactly as `softeq train --model
    mlp-orbit` does with the same seed: orbit penalties on every row, PER's
    rule, selection from the tuner's epoch."""
    summary, stage = _baseline_and_soft_per(*orbit_tuners_fit, "mlp-orbit")
    assert stage["val_mse"] == summary["val_mse"]
    assert stage["best_epoch"] == summary["best_epoch"]


@pytest.mark.parametrize(
    "soft, soft_tuner, trained",
    [(None, None, False), (None, "breaking", False), (None, "per", True),
     (False, "per", False), (False, "choose", False)],
)  # fmt: skip
def test_an_mlps_orbit_soft_stage_runs_when_asked(soft, soft_tuner, trained):
    """An MLP's soft stage is skipped by default (`soft_stage`); naming PER's
    tuner asks for it unless ``soft=False`` says otherwise (inertia:broken: no
    group to impose is called exact, which would skip the stage)."""
    result = run(arrays("inertia:broken"), soft=soft, soft_tuner=soft_tuner)
    assert not any(e["verdict"] == "exact" for e in result.report["groups"])
    stages = {h["stage"] for h in result.history}
    assert ("soft-per" in stages) == trained
