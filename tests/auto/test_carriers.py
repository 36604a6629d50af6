"""`softeq.fit` with several models to carry the symmetries, validation choosing."""

from __future__ import annotations

import json

import pytest
import torch

from softeq.auto import Carrier, Fit, as_carriers, fit, render_carriers
from softeq.data import get_task

GROUPS = ["O3", "O2z"]
SHORT = dict(preset="fast", epochs=3)


@pytest.fixture(scope="module")
def data():
    """inertia:o2z's splits, small: 300 training, 150 validation, 150 test."""
    t = get_task("inertia:o2z")
    return dict(x=t.x_train[:300], y=t.y_train[:300], x_val=t.x_val[:150],
                y_val=t.y_val[:150], x_test=t.x_test[:150], y_test=t.y_test[:150],
                rep_in="5*V0+5*V", rep_out="V2", groups=GROUPS)  # fmt: skip


CARRIERS = ["mlp", Carrier("mlp", soft=True, label="mlp-soft")]


@pytest.fixture(scope="module")
def chosen(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("carriers")
    return fit(**data, model=CARRIERS, out=out, **SHORT), out


def test_each_carrier_is_its_own_fit_and_the_best_on_validation_is_kept(data, chosen):
    result, _ = chosen
    alone = {"mlp": fit(**data, model="mlp", **SHORT),
             "mlp-soft": fit(**data, model="mlp", soft=True, **SHORT)}  # fmt: skip
    # every carrier's score is its own fit's, to the bit
    assert result.carriers == {n: f.val_mse[f.candidate] for n, f in alone.items()}
    assert result.carrier == min(result.carriers, key=result.carriers.__getitem__)
    kept = alone[result.carrier]
    assert result.test_mse == kept.test_mse and result.val_mse == kept.val_mse
    assert result.chosen == kept.chosen and result.imposed == kept.imposed
    x = data["x_test"][:5]
    assert torch.equal(result.predict(x), kept.predict(x))


def test_the_carriers_fits_and_the_choice_are_written_and_reload(data, chosen):
    result, out = chosen
    for name in ("mlp", "mlp-soft"):
        assert (out / name / "fit.json").is_file()
    summary = json.loads((out / "fit.json").read_text())
    assert summary["carrier"] == result.carrier
    assert summary["carriers"] == result.carriers
    report = (out / "report.md").read_text()
    assert report.startswith(f"# Carriers (chosen: {result.carrier})")
    assert "| carrier | validation MSE |" in report and "## Plan" in report
    loaded = Fit.load(out / "model.pt")
    assert loaded.carrier == result.carrier and loaded.carriers == result.carriers
    x = data["x_test"][:5]
    assert torch.allclose(loaded.predict(x), result.predict(x))


def test_a_single_model_fit_names_no_carrier(data):
    result = fit(**data, model="mlp", **SHORT)
    assert result.carrier is None and result.carriers is None


def test_names_and_modules_take_the_calls_options():
    carriers = as_carriers(["mlp", "per", Carrier("per", label="own")], hidden=True,
                           soft_tuner="choose")  # fmt: skip
    assert [c.name for c in carriers] == [
        "mlp-hidden-tuner-choose",
        "per-hidden-tuner-choose",
        "own",
    ]
    assert carriers[1].hidden is True and carriers[2].hidden is False
    module = torch.nn.Linear(20, 9)
    assert as_carriers([module])[0].name == "Linear"


@pytest.mark.parametrize(
    ("models", "message"),
    [([], "non-empty list"), (["mlp", "mlp"], "same name"), ([3], "model name"),
     (["mlp", Carrier("mlp")], "same name")],
)  # fmt: skip
def test_bad_carrier_lists_raise_one_clear_error(models, message):
    with pytest.raises(ValueError, match=message):
        as_carriers(models)


def test_a_carriers_own_bad_option_names_the_carrier_before_any_training(
    data, tmp_path
):
    with pytest.raises(ValueError, match="carrier 'mlp-hidden': fit: hidden needs"):
        fit(**data, model=["per", Carrier("mlp", hidden=True)], out=tmp_path, **SHORT)
    assert not (tmp_path / "per").exists()  # the first carrier never trained
    with pytest.raises(ValueError, match="carrier 'mlp-tuner-x': fit: soft_tuner"):
        fit(**data, model=["per", Carrier("mlp", soft_tuner="x")], **SHORT)


def test_the_carriers_table_puts_the_best_first():
    table = render_carriers({"a": 3.0, "b": 1.0, "c": 2.0}, "b").splitlines()
    assert [row.split("|")[1].strip() for row in table[2:]] == [
        "**b** (chosen)",
        "c",
        "a",
    ]
