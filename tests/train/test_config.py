from __future__ import annotations

import pytest
import torch

from softeq.train import TrainConfig, config_from_dict, load_config, resolve_config


def test_presets_fill_every_field():
    cfg = resolve_config(TrainConfig(task="inertia:o2z", model="per", preset="paper"))
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay) == (
        8000,
        500,
        1e-3,
        2e-4,
    )
    assert (cfg.strength, cfg.select_after, cfg.ch, cfg.allocation) == (
        100.0,
        4000,
        128,
        "per",
    )
    cossim = resolve_config(TrainConfig(task="cossim:so3", model="rpp", preset="paper"))
    assert (cossim.epochs, cossim.batch_size, cossim.ch) == (2000, 200, 45)
    assert resolve_config(TrainConfig(model="emlp")).allocation == "uniform"


def test_epoch_override_scales_the_selection_epoch():
    cfg = resolve_config(TrainConfig(task="inertia:o2z", preset="paper", epochs=800))
    assert cfg.select_after == 400
    explicit = resolve_config(TrainConfig(preset="paper", epochs=800, select_after=10))
    assert explicit.select_after == 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": -3}, "batch_size"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"lr": "fast"}, "lr must be a number"),
        ({"strength": -1.0}, "strength"),
        ({"preset": "slow"}, "preset must be one of"),
        ({"model": "resnet"}, "model must be one of"),
        ({"allocation": "random"}, "allocation must be one of"),
        ({"device": "tpu"}, "device"),
        ({"patience": 1.5}, "patience"),
        ({"cuda_graphs": "yes"}, "cuda_graphs must be true or false"),
        ({"tune_largest": 1}, "tune_largest must be true or false"),
        ({"standardize": "no"}, "standardize must be true or false"),
        ({"lr_schedule": "step"}, "lr_schedule must be one of"),
        ({"min_improvement": 1.0}, "min_improvement must be < 1"),
        ({"smoothing": -1}, "smoothing must be an integer >= 0"),
        ({"nonlinear_group": 3}, "nonlinear_group must be a string"),
        ({"cuda_graphs": True}, "cuda_graphs needs device 'cuda', got 'cpu'"),
        (
            {"cuda_graphs": True, "device": "cuda", "model": "mlp-aug"},
            "cannot capture model 'mlp-aug'",
        ),
    ],
)
def test_bad_values_raise_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resolve_config(TrainConfig(**kwargs))


def test_toml_round_trip_and_errors(tmp_path):
    cfg = resolve_config(TrainConfig(task="cossim:none", model="mlp", seed=3))
    path = tmp_path / "run.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg
    nested = tmp_path / "nested.toml"
    nested.write_text('[train]\ntask = "inertia:o3"\nepochs = 5\n')
    assert load_config(nested).epochs == 5
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("epochz = 3\n")
    with pytest.raises(ValueError, match="unknown config keys \\['epochz'\\]"):
        load_config(unknown)
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="unknown config keys"):
        config_from_dict({"tasks": "x"})


def test_tuner_presets_and_scaling():
    cfg = resolve_config(TrainConfig(task="inertia:o2z", preset="paper"))
    assert (cfg.tuner, cfg.adjust_at, cfg.adjust_power) == ("per", 2000, 2.0)
    short = resolve_config(TrainConfig(task="inertia:o2z", preset="paper", epochs=800))
    assert (short.adjust_at, short.select_after) == (200, 400)
    with pytest.raises(ValueError, match="tuner must be one of"):
        resolve_config(TrainConfig(tuner="evidence2"))


def test_graphed_forward_needs_a_cuda_sample():
    from softeq.train import GraphedForward

    with pytest.raises(ValueError, match="needs a CUDA sample, got one on cpu"):
        GraphedForward(torch.nn.Linear(3, 2), torch.randn(4, 3))


def test_converged_is_the_default_preset():
    cfg = resolve_config(TrainConfig(task="emlp-inertia:1000", model="emlp"))
    assert cfg.preset == "converged"
    assert (cfg.lr_schedule, cfg.ch, cfg.allocation) == ("plateau", 384, "uniform")
    per = resolve_config(TrainConfig(task="inertia:o2z", model="per"))
    assert (per.ch, per.allocation, per.gate) == (128, "per", "rpp")
    assert per.patience > 0 and per.smoothing > 0 and per.lr_drops > 0


@pytest.mark.parametrize("preset", ["fast", "paper"])
def test_reference_presets_keep_the_reference_schedule(preset):
    cfg = resolve_config(TrainConfig(task="inertia:o2z", preset=preset))
    assert (cfg.lr_schedule, cfg.smoothing, cfg.min_improvement, cfg.lr_drops) == (
        "cosine", 0, 0.0, 0,
    )  # fmt: skip


def test_a_higher_cap_does_not_move_the_tuning_epoch():
    base = resolve_config(TrainConfig(task="inertia:o2z"))
    higher = resolve_config(TrainConfig(task="inertia:o2z", epochs=base.epochs * 4))
    assert (higher.adjust_at, higher.select_after) == (
        base.adjust_at, base.select_after,
    )  # fmt: skip
    lower = resolve_config(TrainConfig(task="inertia:o2z", epochs=base.epochs // 10))
    assert lower.adjust_at == round(base.adjust_at / 10)


def test_an_explicit_tuning_epoch_moves_selection_with_it():
    """The reference selects only after 2 x adjust_at (PER-REFERENCE); the
    audit found `--epochs 300 --adjust-at 100` selecting from epoch 150."""
    cfg = resolve_config(TrainConfig(task="inertia:rpp", preset="paper", epochs=300,
                                     adjust_at=100))  # fmt: skip
    assert (cfg.adjust_at, cfg.select_after) == (100, 200)
    tuned = resolve_config(TrainConfig(task="inertia:rpp", adjust_at=300))
    assert tuned.select_after == 300
    untuned = resolve_config(TrainConfig(task="inertia:rpp", model="mlp",
                                         adjust_at=300))  # fmt: skip
    assert untuned.select_after == 0
    explicit = resolve_config(TrainConfig(preset="paper", adjust_at=100,
                                          select_after=7))  # fmt: skip
    assert explicit.select_after == 7


@pytest.mark.parametrize(
    "kwargs",
    [dict(model="per", epochs=100, adjust_at=101),
     dict(model="mlp-orbit", preset="fast", adjust_at=400)],
    ids=["per", "mlp-orbit-fast"],
)  # fmt: skip
def test_a_tuning_epoch_after_the_last_is_refused(kwargs):
    with pytest.raises(ValueError, match=r"after the last epoch.*never rescale"):
        resolve_config(TrainConfig(task="inertia:o2z", **kwargs))


@pytest.mark.parametrize(
    "kwargs", [dict(model="mlp"), dict(model="per", tuner="constant")]
)
def test_a_tuning_epoch_nothing_uses_may_be_anything(kwargs):
    config = TrainConfig(task="inertia:o2z", epochs=100, adjust_at=101, **kwargs)
    assert resolve_config(config).adjust_at == 101


@pytest.mark.parametrize("epochs", [150, 60, 4])
def test_a_shortened_fast_run_still_tunes(epochs):
    """`--preset fast --epochs 150` tunes at epoch 38, before the reference's
    50-collection warm-up would end; the warm-up scales with it."""
    from softeq.data import get_task
    from softeq.train._setup import make_tuner

    cfg = resolve_config(TrainConfig(task="inertia:o2z", preset="fast", epochs=epochs))
    assert cfg.adjust_at == max(1, round(75 * epochs / 300))
    tuner = make_tuner(cfg, get_task("inertia:o2z"))
    R = {"O3": 1.0, "O2x": 0.5, "O2y": 0.5, "O2z": 0.25}
    for epoch in range(cfg.adjust_at):
        tuner.step(epoch, R)
    assert tuner.fired and tuner.strengths["O2x"] == cfg.strength / 4


def test_converged_rpp_can_form_rank_two_targets_from_vectors():
    """At the reference width 89 RPP's hidden layers have no rank-3 tensors, so its
    equivariant path cannot map V (x) V to an inertia tensor (V2); the converged
    preset gives it PER's width, whose allocation has them."""
    from softeq.nn.models import allocate

    for task in ("inertia:o3", "emlp-inertia:1000", "particle-interaction:1000"):
        rpp = resolve_config(TrainConfig(task=task, model="rpp"))
        hidden = allocate(rpp.ch, "O3", rpp.allocation)
        assert max(t.rank for t, _ in hidden.canonical_types()) == 3, hidden
    paper = resolve_config(TrainConfig(task="inertia:o3", model="rpp", preset="paper"))
    reference = allocate(paper.ch, "O3", paper.allocation)
    assert paper.ch == 89  # the reference's own width stays in its protocol
    assert max(t.rank for t, _ in reference.canonical_types()) == 2
    for task in ("mocap", "o5-synthetic:1000"):  # vector and scalar targets
        assert resolve_config(TrainConfig(task=task, model="rpp")).ch == 89, task


def test_config_change_tells_a_raised_cap_from_another_protocol():
    from softeq.train import config_change

    base = resolve_config(TrainConfig(task="inertia:o2z", model="per")).to_dict()
    assert base["lr_schedule"] == "plateau" and base["select_after"] == 200
    assert config_change(base, dict(base)) == "same"
    assert config_change(base, {**base, "fast_dev_run": True}) == "same"
    higher = 2 * base["epochs"]
    assert config_change(base, {**base, "epochs": higher}) == "raised cap"
    assert config_change({**base, "epochs": higher}, base) == "different"  # lowered
    assert config_change(base, {**base, "epochs": higher, "lr": 1e-3}) == "different"
    assert config_change(base, {**base, "patience": 100}) == "different"
    # selection would start at the old cap's last epoch but later under the new one
    late = {**base, "select_after": 300}
    assert config_change({**late, "epochs": 250}, late) == "different"
    # a cosine schedule reads its length every epoch
    cosine = {**base, "lr_schedule": "cosine"}
    assert config_change(cosine, {**cosine, "epochs": higher}) == "different"
    # a field the saved config predates reads as its default
    old = {k: v for k, v in base.items() if k != "penalty_mode"}
    assert config_change(old, {**base, "epochs": higher}) == "raised cap"


def test_nonlinear_group_builds_per_and_emlp_and_nothing_else(tmp_path):
    from softeq.train import Trainer

    def model(**kw):
        config = TrainConfig(task="cossim:so3", ch=16, num_layers=1,
                             fast_dev_run=True, **kw)  # fmt: skip
        return Trainer(config, None).model

    assert model(model="per").nonlinear_group.name == "SO3xScale3"
    assert model(model="per", nonlinear_group="SO3").nonlinear_group.name == "SO3"
    hard = model(model="emlp", group="SO3", nonlinear_group="SO3")
    assert (hard.group.name, hard.nonlinear_group.name) == ("SO3", "SO3")
    with pytest.raises(ValueError, match="applies to the models 'per' and 'emlp'"):
        model(model="mlp", nonlinear_group="SO3")
    with pytest.raises(ValueError, match="not inside nonlinear_group"):
        model(model="emlp", group="SO3xScale3", nonlinear_group="SO3")
    # in a TOML config and back
    cfg = resolve_config(TrainConfig(task="cossim:so3", model="per",
                                     nonlinear_group="SO3"))  # fmt: skip
    path = tmp_path / "run.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path).nonlinear_group == "SO3"
