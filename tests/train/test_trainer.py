from __future__ import annotations

import json
import pickle

import pytest
import torch

from softeq.nn import soft_layers
from softeq.train import NonFiniteLossError, TrainConfig, Trainer, load_checkpoint

SMALL = dict(task="inertia:o2z", ch=8, num_layers=1, epochs=6, batch_size=500,
             select_after=2, eval_inputs=4, eval_transforms=2)  # fmt: skip


@pytest.mark.parametrize(
    "model", ["mlp", "mlp-aug", "emlp", "rpp", "rpp-oracle", "per"]
)
def test_every_model_trains_one_fast_dev_step(model, tmp_path):
    cfg = TrainConfig(**{**SMALL, "model": model, "fast_dev_run": True})
    summary = Trainer(cfg, tmp_path).fit()
    assert summary["epochs_run"] == 1 and summary["test_mse"] > 0
    assert set(summary["groups"]) == {"O3", "O2x", "O2y", "O2z"}
    for name in ["config.toml", "metrics.jsonl", "checkpoint.pt", "summary.json"]:
        assert (tmp_path / name).is_file()


def test_run_folder_contents_and_selection(tmp_path):
    summary = Trainer(TrainConfig(**SMALL, model="per"), tmp_path).fit()
    rows = [
        json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epoch"] for r in rows] == list(range(6))
    assert {"train/mse", "val/mse", "reg/penalty/O2z", "reg/strength/O2x"} <= set(
        rows[0]
    )
    assert rows[0]["reg/strength/O3"] == 0.0
    assert summary["best_epoch"] >= 2
    assert summary["groups"]["O2z"]["truth"] == "exact"
    assert summary["groups"]["O2z"]["true_error"] < 1e-6
    # one measurement per run: the summary repeats the report's numbers (same
    # test inputs, same g's), the equivariance error included
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict_basis"] == "breaking"
    for entry in report["groups"]:
        group = summary["groups"][entry["name"]]
        for key in ("cost", "breaking", "breaking_low", "breaking_high", "verdict",
                    "equivariance_error", "true_error", "constrained"):  # fmt: skip
            assert group[key] == entry[key], key
        assert group["equivariance_error_gaussian"] >= 0
    assert (tmp_path / "learning_curves.png").is_file()
    assert (tmp_path / "symmetry.png").is_file()


def test_same_seed_same_numbers(tmp_path):
    a = Trainer(TrainConfig(**SMALL, model="per"), tmp_path / "a").fit()
    b = Trainer(TrainConfig(**SMALL, model="per"), tmp_path / "b").fit()
    c = Trainer(TrainConfig(**SMALL, model="per", seed=1), tmp_path / "c").fit()
    assert a == b
    assert a["test_mse"] != c["test_mse"]


class _InterruptedError(Exception):
    pass


class _CrashAfterEpoch3(Trainer):
    def save_checkpoint(self) -> None:
        super().save_checkpoint()
        if self.epoch == 3:
            raise _InterruptedError


def test_resume_is_bit_identical(tmp_path):
    cfg = TrainConfig(**SMALL, model="per", checkpoint_every=1)
    full = Trainer(cfg, tmp_path / "full")
    expected = full.fit()
    with pytest.raises(_InterruptedError):
        _CrashAfterEpoch3(cfg, tmp_path / "cut").fit()
    resumed = Trainer(cfg, tmp_path / "cut")
    assert resumed.fit(resume=True) == expected
    for pa, pb in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text()
    assert lines == (tmp_path / "full" / "metrics.jsonl").read_text()


def test_resume_refuses_a_different_config(tmp_path):
    Trainer(TrainConfig(**SMALL, model="mlp"), tmp_path).fit()
    other = Trainer(TrainConfig(**{**SMALL, "lr": 0.5}, model="mlp"), tmp_path)
    with pytest.raises(ValueError, match="config differs in \\['lr'\\]"):
        other.fit(resume=True)


class _NaNAtEpoch2(Trainer):
    def _train_epoch(self):
        if self.epoch == 2:
            self.data["y_train"][0, 0] = float("nan")
        return super()._train_epoch()


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    cfg = TrainConfig(**SMALL, model="mlp", checkpoint_every=1)
    with pytest.raises(NonFiniteLossError, match="at epoch 2, step"):
        _NaNAtEpoch2(cfg, tmp_path).fit()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_crafted_pickle_checkpoint_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(ValueError, match="refusing to load"):
        load_checkpoint(path)
    assert not marker.exists()


def _logged(out, quantity: str) -> list[dict[str, float]]:
    """Per epoch, ``reg/<quantity>/<group>`` of metrics.jsonl by group."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    head = f"reg/{quantity}/"
    return [{k[len(head) :]: v for k, v in r.items() if k.startswith(head)}
            for r in rows]  # fmt: skip


def _per_rule(strengths: dict[str, float], R: dict[str, float], power: float):
    """lambda_j (R_min / R_j)^p, R_min over the groups with lambda_j != 0."""
    r_min = min(R[g] for g, s in strengths.items() if s)
    return {g: s * (r_min / R[g]) ** power for g, s in strengths.items()}


def _evidence_rule(strengths: dict[str, float], row: dict[str, float], n: int):
    """One damped (eta = 1/2) step log s_j += eta log(T_j / R_j), with T_j from
    the logged gamma_j = 2 beta s_j T_j and beta = n / (2 noise)."""
    beta = n / (2 * row["tuner/noise"])
    out = dict(strengths)
    for g, s in strengths.items():
        if s:
            T = row[f"tuner/determined/{g}"] / (2 * beta * s)
            out[g] = s * (T / row[f"reg/penalty/{g}"]) ** 0.5
    return out


@pytest.mark.parametrize("tuner", ["constant", "per", "evidence"])
def test_tuners_change_strengths_in_the_trainer_by_their_rule(tuner, tmp_path):
    cfg = TrainConfig(**{**SMALL, "epochs": 4}, model="per", tuner=tuner, tuner_every=2,
                      adjust_at=2)  # fmt: skip
    trainer = Trainer(cfg, tmp_path)
    summary = trainer.fit()
    # row k holds the strengths of epoch k: those before that epoch's tuner step
    strengths = _logged(tmp_path, "strength") + [summary["strengths"]]
    init = {"O3": 0.0, **dict.fromkeys(["O2x", "O2y", "O2z"], trainer.config.strength)}
    assert strengths[0] == init
    if tuner == "constant":
        assert strengths == [init] * 5
        return
    if tuner == "per":  # fires once at epoch 2 (1-based) on that epoch's penalties
        R = _logged(tmp_path, "penalty")[1]
        expected = [init, init] + [_per_rule(init, R, trainer.config.adjust_power)] * 3
    else:  # updates after epochs 2 and 4 (1-based)
        rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text()
                .splitlines()]  # fmt: skip
        n = trainer.task.y_train.numel()
        after_2 = _evidence_rule(init, rows[1], n)
        expected = [init, init, after_2, after_2, _evidence_rule(after_2, rows[3], n)]
    assert strengths == [pytest.approx(e, rel=1e-9) for e in expected]
    assert strengths[2] != init and strengths[2]["O3"] == 0.0  # it did change them


def test_evidence_diagnostics_are_logged_at_update_epochs(tmp_path):
    # the first update at adjust_at (1-based), then every tuner_every epochs
    cfg = TrainConfig(**{**SMALL, "epochs": 4}, model="per", tuner="evidence",
                      tuner_every=2, adjust_at=2)  # fmt: skip
    Trainer(cfg, tmp_path).fit()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text()
            .splitlines()]  # fmt: skip
    logged = [sorted(k for k in row if k.startswith("tuner/")) for row in rows]
    tuned = ["tuner/determined/O2x", "tuner/determined/O2y", "tuner/determined/O2z"]
    assert logged == [[], tuned + ["tuner/noise"], [], tuned + ["tuner/noise"]]
    assert rows[1]["tuner/noise"] == rows[1]["train/mse"]
    assert all(rows[1][k] > 0 for k in tuned)


@pytest.mark.parametrize("tune_largest", [False, True])
def test_evidence_tuner_tunes_the_largest_group_only_when_asked(tune_largest):
    cfg = TrainConfig(**SMALL, model="per", tuner="evidence", tune_largest=tune_largest)
    strengths = Trainer(cfg).tuner.strengths
    assert (strengths["O3"] > 0) is tune_largest and strengths["O2z"] > 0


def test_orbit_penalty_model_tunes_and_resumes(tmp_path):
    cfg = TrainConfig(**SMALL, model="mlp-orbit", adjust_at=3, checkpoint_every=1)
    full = Trainer(cfg, tmp_path / "full")
    expected = full.fit()
    orbit = _logged(tmp_path / "full", "orbit")
    assert all(v > 0 for v in orbit[0].values())
    # the tuner fires at epoch 3 (1-based) on that epoch's mean orbit penalties
    init = {"O3": 0.0, **dict.fromkeys(["O2x", "O2y", "O2z"], full.config.strength)}
    tuned = _per_rule(init, orbit[2], full.config.adjust_power)
    strengths = _logged(tmp_path / "full", "strength") + [expected["strengths"]]
    assert strengths == [init] * 3 + [pytest.approx(tuned, rel=1e-9)] * 4
    assert tuned != init
    with pytest.raises(_InterruptedError):
        _CrashAfterEpoch3(cfg, tmp_path / "cut").fit()
    assert Trainer(cfg, tmp_path / "cut").fit(resume=True) == expected


def test_an_orbit_penalised_model_reports_its_penalties_as_constraints(tmp_path):
    # an output penalty pulls the model toward its groups whatever the data say:
    # the report withholds "exact" and "approximate" (as for augmentation) and
    # shows the tuner's strengths
    cfg = TrainConfig(**SMALL, model="mlp-orbit", adjust_at=3)
    summary = Trainer(cfg, tmp_path).fit()
    report = json.loads((tmp_path / "report.json").read_text())
    entries = {e["name"]: e for e in report["groups"]}
    for name in ("O2x", "O2y", "O2z"):  # penalised (strength > 0)
        assert summary["strengths"][name] > 0
        assert "orbit penalty toward " + name in entries[name]["constrained"]
        assert entries[name]["strength"] == pytest.approx(summary["strengths"][name])
    assert summary["strengths"]["O3"] == 0.0  # not penalised, but pulled all the same
    assert "orbit penalty toward O2x" in entries["O3"]["constrained"]
    assert {e["verdict"] for e in entries.values()} <= {"broken", "undetermined"}
    # the unpenalised model of the same run declares nothing
    plain = Trainer(TrainConfig(**SMALL, model="mlp"), tmp_path / "mlp").fit()
    assert plain["strengths"] == {}
    report = json.loads((tmp_path / "mlp" / "report.json").read_text())
    assert all(e["constrained"] is None for e in report["groups"])


def test_evidence_tuner_needs_soft_layers():
    with pytest.raises(ValueError, match="needs soft layers"):
        Trainer(TrainConfig(**SMALL, model="mlp-orbit", tuner="evidence"))


def test_a_one_sample_test_split_falls_back_to_equivariance_verdicts(tmp_path):
    # the symmetry cost needs two held-out samples; with one the run still ends,
    # and the report says its verdicts come from the model's equivariance error
    from dataclasses import replace

    from softeq.data import get_task

    full = get_task("inertia:o2z")
    task = replace(full, x_test=full.x_test[:1], y_test=full.y_test[:1])
    summary = Trainer(TrainConfig(**SMALL, model="per"), tmp_path, task=task).fit()
    assert all(g["cost"] is None for g in summary["groups"].values())
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict_basis"] == "equivariance_error"


# a plateau schedule that acts within a few epochs: 50 % better or it counts as bad
PLATEAU = dict(SMALL, model="mlp", epochs=40, select_after=1, patience=2,
               smoothing=0, min_improvement=0.5, lr_drops=1,
               checkpoint_every=1)  # fmt: skip


def test_plateau_drops_the_rate_then_stops_as_converged(tmp_path):
    summary = Trainer(TrainConfig(**PLATEAU), tmp_path).fit()
    rows = [
        json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    lr = Trainer(TrainConfig(**PLATEAU)).config.lr
    assert sorted({r["lr"] for r in rows}) == pytest.approx([lr / 10, lr])
    assert summary["stop_reason"] == "converged"
    assert summary["epochs_run"] < PLATEAU["epochs"]


def test_a_run_that_reaches_its_cap_says_so(tmp_path):
    cfg = TrainConfig(**{**PLATEAU, "epochs": 3, "patience": 0})
    assert Trainer(cfg, tmp_path).fit()["stop_reason"] == "epoch cap"


def test_resume_across_a_rate_drop_is_bit_identical(tmp_path):
    cfg = TrainConfig(**PLATEAU)
    expected = Trainer(cfg, tmp_path / "full").fit()
    with pytest.raises(_InterruptedError):
        _CrashAfterEpoch3(cfg, tmp_path / "cut").fit()
    assert Trainer(cfg, tmp_path / "cut").fit(resume=True) == expected
    full = (tmp_path / "full" / "metrics.jsonl").read_text()
    assert (tmp_path / "cut" / "metrics.jsonl").read_text() == full


def test_a_checkpoint_from_before_early_stopping_still_resumes(tmp_path):
    """Checkpoints written before `EarlyStopping` hold "bad_epochs" instead of
    "stopping"; they resume with the reference rule's state."""
    cfg = TrainConfig(**SMALL, model="mlp", preset="fast", checkpoint_every=1)
    with pytest.raises(_InterruptedError):
        _CrashAfterEpoch3(cfg, tmp_path).fit()
    path = tmp_path / "checkpoint.pt"
    state = load_checkpoint(path)
    state["bad_epochs"] = state.pop("stopping")["bad_epochs"]
    torch.save(state, path)  # an old-format file, without the integrity trailer
    resumed = Trainer(cfg, tmp_path)
    assert resumed.fit(resume=True)["epochs_run"] == SMALL["epochs"]


def test_a_checkpoint_from_before_a_new_field_still_resumes(tmp_path):
    """A config field added later (here `penalty_mode`) reads as its default."""
    cfg = TrainConfig(**SMALL, model="mlp", checkpoint_every=1)
    with pytest.raises(_InterruptedError):
        _CrashAfterEpoch3(cfg, tmp_path).fit()
    path = tmp_path / "checkpoint.pt"
    state = load_checkpoint(path)
    del state["config"]["penalty_mode"]
    torch.save(state, path)
    assert Trainer(cfg, tmp_path).resume()
    other = TrainConfig(**SMALL, model="per", penalty_mode="proximal")
    with pytest.raises(ValueError, match="config differs"):
        Trainer(other, tmp_path).resume()


def test_proximal_penalties_leave_the_loss_and_pull_the_weights(tmp_path):
    """Under ``penalty_mode="proximal"`` the loss is the data term alone and a
    stiff strength keeps the soft layers on the group's maps after every step."""
    common = dict(SMALL, model="per", tuner="constant", strength=1e6, epochs=3)
    summary = Trainer(TrainConfig(**common, penalty_mode="proximal"), tmp_path).fit()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    assert [r["train/loss"] for r in rows] == [r["train/mse"] for r in rows]
    # lr 3e-3 x 1e6: each step keeps ~3e-4 of the off-group part
    # constant strengths: residuals logged every RESIDUAL_EVERY epochs and the last
    residuals = [r for r in _logged(tmp_path, "residual") if r]
    assert len(residuals) == 2 and all(r["O2z"] < 1e-8 for r in residuals)
    assert rows[0]["reg/strength/O2z"] == 1e6
    assert summary["stop_reason"] is not None
    # in the loss, Adam moves each weight by about lr per step whatever the
    # strength: the same stiff penalty barely moves the residual in 3 epochs
    Trainer(TrainConfig(**common), tmp_path / "loss").fit()
    residuals = [r for r in _logged(tmp_path / "loss", "residual") if r]
    assert len(residuals) == 2 and all(r["O2z"] > 0.1 for r in residuals)


def test_proximal_penalties_need_soft_layers():
    with pytest.raises(ValueError, match="proximal.*SoftLinear"):
        Trainer(TrainConfig(**SMALL, model="mlp", penalty_mode="proximal"))
    with pytest.raises(ValueError, match="penalty_mode"):
        Trainer(TrainConfig(**SMALL, model="per", penalty_mode="prox"))


def test_equivariant_init_starts_every_penalty_at_zero():
    """``init="equivariant"`` projects the soft layers onto the largest
    candidate's maps: every candidate's penalty is zero before the first step,
    and only the linear maps change (the random init is otherwise the same)."""
    common = dict(SMALL, model="per")
    plain = Trainer(TrainConfig(**common))
    started = Trainer(TrainConfig(**common, init="equivariant"))
    assert all(float(v) > 1e-3 for v in plain.penalty(exact=True).values())
    assert all(float(v) < 1e-18 for v in started.penalty(exact=True).values())
    projected = {id(p) for m in soft_layers(started.model) for p in (m.weight, m.bias)}
    others = dict(plain.model.named_parameters())
    for name, q in started.model.named_parameters():
        if id(q) not in projected:  # bilinear weights, gate paths: as drawn
            torch.testing.assert_close(q, others[name], rtol=0, atol=0)


def test_equivariant_init_needs_soft_layers_and_a_known_choice():
    with pytest.raises(ValueError, match="init 'equivariant' needs.*SoftLinear"):
        Trainer(TrainConfig(**SMALL, model="mlp", init="equivariant"))
    with pytest.raises(ValueError, match="init must be one of"):
        Trainer(TrainConfig(**SMALL, model="per", init="projected"))


@pytest.mark.parametrize("tuner", ["per", "evidence", "breaking", "constant"])
def test_tuners_read_penalties_only_where_they_can_change(tuner):
    """PER's tuner reads the penalties up to its rescaling at `adjust_at`, the
    evidence and breaking tuners only at their updates (from `adjust_at`, every
    `tuner_every` epochs), constant strengths never: the trainer skips the exact
    penalty pass at the other epochs (logging it every RESIDUAL_EVERY), and the
    run is the same to the bit as one that computes it every epoch."""
    from softeq.train import RESIDUAL_EVERY

    cfg = TrainConfig(**{**SMALL, "epochs": 12}, model="per", tuner=tuner,
                      adjust_at=2, tuner_every=3, strength=1.0,
                      patience=0)  # fmt: skip
    runs = {}
    for reads_always in (False, True):
        trainer = Trainer(cfg)
        if reads_always:
            trainer.tuner.reads_penalties = lambda epoch: True
        rows = [trainer.run_epoch()[0] for _ in range(cfg.epochs)]
        runs[reads_always] = (trainer.model.state_dict(), rows)
    (lazy, lazy_rows), (eager, eager_rows) = runs[False], runs[True]
    for name, value in lazy.items():
        torch.testing.assert_close(value, eager[name], rtol=0, atol=0)
    assert [r["val/mse"] for r in lazy_rows] == [r["val/mse"] for r in eager_rows]

    def logged(rows, quantity):
        return [{k: v for k, v in r.items() if k.startswith(f"reg/{quantity}/")}
                for r in rows]  # fmt: skip

    strengths = logged(lazy_rows, "strength")
    assert strengths == logged(eager_rows, "strength")
    # 0-based epochs that read them: PER's up to its rescaling at 1-based 2
    updates = {"per": [0, 1], "constant": []}.get(tuner, [1, 4, 7, 10])
    assert (strengths[-1] != strengths[0]) == bool(updates)
    lazy_pen, eager_pen = logged(lazy_rows, "penalty"), logged(eager_rows, "penalty")
    at = [e for e, row in enumerate(lazy_pen) if row]
    last = cfg.epochs - 1  # the cap's last epoch is logged too
    assert at == sorted({*updates, last, *range(0, cfg.epochs, RESIDUAL_EVERY)})
    assert all(eager_pen[e] == lazy_pen[e] for e in at)


def _val_curve(folder) -> list[float]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["val/mse"] for x in lines]


# an explicit cap scales the tuning epoch unless that is given too
RAISABLE = dict(PLATEAU, adjust_at=2)


def test_raising_the_cap_continues_a_capped_run_as_if_it_had_that_cap(tmp_path):
    """Under the plateau schedule the cap is read by nothing but the loop: a run
    stopped at cap 4 and resumed with cap 40 is the run given cap 40 at once
    (PER: its tuner, penalties and selection included)."""
    config = dict(RAISABLE, model="per")
    straight = Trainer(TrainConfig(**config), tmp_path / "straight").fit()
    assert straight["stop_reason"] == "converged" and straight["epochs_run"] > 4
    capped = Trainer(TrainConfig(**{**config, "epochs": 4}), tmp_path / "grown").fit()
    assert capped["stop_reason"] == "epoch cap" and capped["epochs_run"] == 4
    grown = Trainer(TrainConfig(**config), tmp_path / "grown")
    assert grown.fit(resume=True) == straight
    assert _val_curve(tmp_path / "grown") == _val_curve(tmp_path / "straight")


def test_a_run_its_rule_stopped_stays_finished_when_resumed(tmp_path):
    first = Trainer(TrainConfig(**RAISABLE), tmp_path).fit()
    assert first["stop_reason"] == "converged"
    curve = _val_curve(tmp_path)
    for cap in (RAISABLE["epochs"], 2 * RAISABLE["epochs"]):  # same, raised cap
        again = Trainer(TrainConfig(**{**RAISABLE, "epochs": cap}), tmp_path)
        assert again.fit(resume=True) == first
        assert _val_curve(tmp_path) == curve


def test_a_lower_cap_or_a_cosine_schedule_is_not_a_raised_cap(tmp_path):
    Trainer(TrainConfig(**{**RAISABLE, "epochs": 4}), tmp_path / "plateau").fit()
    lower = Trainer(TrainConfig(**{**RAISABLE, "epochs": 3}), tmp_path / "plateau")
    with pytest.raises(ValueError, match="config differs in \\['epochs'\\]"):
        lower.fit(resume=True)
    cosine = dict(RAISABLE, epochs=4, lr_schedule="cosine")
    Trainer(TrainConfig(**cosine), tmp_path / "cosine").fit()
    longer = Trainer(TrainConfig(**{**cosine, "epochs": 8}), tmp_path / "cosine")
    with pytest.raises(ValueError, match="config differs in \\['epochs'\\]"):
        longer.fit(resume=True)


def _hidden_run(**overrides):
    base = dict(
        SMALL, num_layers=2, epochs=4, model="per", tuner="constant", strength=0.0
    )
    cfg = TrainConfig(**{**base, **overrides})
    trainer = Trainer(cfg)
    start = trainer.penalty.per_layer()
    for _ in range(cfg.epochs):  # training only: no evaluation, no report
        trainer._train_epoch()
    return trainer, start, trainer.penalty.per_layer()


@pytest.mark.parametrize("mode", ["loss", "proximal"])
def test_hidden_strength_holds_the_hidden_layers_on_the_largest_group(mode):
    """`hidden_strength` is a proximal step on the hidden soft layers towards
    the largest candidate's maps, in either penalty mode: they end on O(3)'s
    maps, the output layer (with no other penalty) stays off them, and the loss
    is the data term alone."""
    trainer, start, end = _hidden_run(penalty_mode=mode, hidden_strength=1e6)
    assert trainer.hidden_group == "O3"
    for before, after in zip(start[:-1], end[:-1], strict=True):
        assert after["O3"] < 1e-6 * before["O3"]
    assert end[-1]["O3"] > 0.1 * start[-1]["O3"]
    row = trainer._train_epoch()
    assert row["train/loss"] == row["train/mse"]


def test_hidden_strength_needs_soft_layers_and_a_valid_number():
    with pytest.raises(ValueError, match="hidden_strength.*SoftLinear"):
        Trainer(TrainConfig(**SMALL, model="mlp", hidden_strength=1.0))
    with pytest.raises(ValueError, match="hidden_strength must be a number"):
        Trainer(TrainConfig(**SMALL, model="per", hidden_strength=-1.0))
