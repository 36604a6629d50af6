"""Per-point held-out errors and their spread (softeq.metrics._point_errors)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from softeq.metrics import SPREAD_FIELDS, error_spread, point_errors, spread_fields
from softeq.train._trainer import held_out_mse


def _data(n=300, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=gen), torch.randn(n, 4, generator=gen)


def test_point_errors_average_to_the_held_out_mse_and_restore_the_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.5), nn.Linear(16, 4))
    x, y = _data()
    model.train()
    e = point_errors(model, x, y, batch=64)  # batches do not change the numbers
    assert e.shape == (300,) and e.dtype == torch.float64
    assert model.training  # left in the mode it was in
    assert float(e.mean()) == pytest.approx(held_out_mse(model, x, y), rel=1e-6)
    # each point's error is its own: permuting the points permutes the errors
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(point_errors(model, x[perm], y[perm]), e[perm])


def test_point_errors_of_a_plain_callable_and_multi_dimensional_targets():
    x = torch.randn(10, 3)
    y = torch.zeros(10, 3, 3)
    e = point_errors(lambda t: torch.ones(t.shape[0], 3, 3), x, y)
    assert torch.equal(e, torch.ones(10, dtype=torch.float64))


@pytest.mark.parametrize(("x", "y", "match"), [
    (torch.randn(5, 6), torch.randn(4, 4), "same positive number"),
    (torch.randn(0, 6), torch.randn(0, 4), "same positive number"),
    (torch.randn(5, 6), torch.randn(5, 3), "do not match"),
])  # fmt: skip
def test_point_errors_rejects_mismatched_inputs(x, y, match):
    with pytest.raises(ValueError, match=match):
        point_errors(nn.Linear(6, 4), x, y)


def test_equal_errors_spread_evenly():
    s = error_spread(torch.full((250,), 0.5))
    assert s["mean"] == s["median"] == s["trimmed"] == s["worst"] == 0.5
    assert s["worst_share"] == pytest.approx(math.ceil(2.5) / 250)  # 3 of 250


def test_a_few_outliers_move_the_mean_but_not_the_trimmed_mean_or_median():
    gen = torch.Generator().manual_seed(0)
    errors = torch.rand(1000, generator=gen, dtype=torch.float64) * 0.01
    clean = error_spread(errors)
    errors[[3, 500]] = torch.tensor([409.0, 77.0], dtype=torch.float64)
    s = error_spread(errors)
    assert s["mean"] > 40 * clean["mean"]
    assert s["worst"] == 409.0 and s["worst_share"] > 0.95
    # the worst 10 points are left out: the two outliers and 8 of the largest rest
    kept = errors.sort().values[:990]
    assert s["trimmed"] == pytest.approx(float(kept.mean()))
    assert s["trimmed"] < clean["mean"]
    assert s["median"] == pytest.approx(clean["median"], rel=0.02)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    s = error_spread(torch.tensor([4.0, 1.0, 3.0, 2.0]))
    assert s["median"] == 2.5 and s["mean"] == 2.5
    assert s["trimmed"] == 2.0 and s["worst_share"] == 0.4  # ceil(0.04) = 1 left out
    one = error_spread(torch.tensor([2.0]))  # never leaves out every point
    assert one["trimmed"] == one["median"] == 2.0 and one["worst_share"] == 0.0
    assert error_spread(torch.zeros(5))["worst_share"] == 0.0


@pytest.mark.parametrize(("errors", "trim", "match"), [
    (torch.ones(2, 2), 0.01, "1-d"),
    (torch.ones(0), 0.01, "1-d"),
    (torch.tensor([1.0, float("nan")]), 0.01, "finite"),
    (torch.tensor([1.0, -1.0]), 0.01, "non-negative"),
    (torch.ones(3), 1.0, "trim"),
])  # fmt: skip
def test_error_spread_rejects_bad_input(errors, trim, match):
    with pytest.raises(ValueError, match=match):
        error_spread(errors, trim)


def test_spread_fields_name_the_summary_fields():
    x, y = _data(200)
    fields = spread_fields(nn.Linear(6, 4), x, y, prefix="val")
    assert list(fields) == [f"val_{f}" for f in SPREAD_FIELDS]
    assert fields["val_median_se"] <= fields["val_trimmed_mse"] * 2
