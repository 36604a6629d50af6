"""`Standardize`: standardised units inside, the data's units outside, equivariantly."""

from __future__ import annotations

import pytest
import torch

from softeq.data import copy_rms
from softeq.groups import Lorentz
from softeq.nn import Standardize
from softeq.nn.models import build
from softeq.reps import parse
from softeq.testing import assert_equivariant


def test_forward_is_affine_around_the_wrapped_model():
    inner = torch.nn.Linear(3, 2)
    x_scale, y_mean, y_scale = torch.tensor([1.0, 2.0, 4.0]), torch.ones(2), 3.0
    f = Standardize(inner, x_scale, y_mean, y_scale, d_in=3, d_out=2)
    x = torch.randn(5, 3)
    assert torch.allclose(f(x), 3.0 * inner(x / x_scale) + 1.0)


def test_copy_scales_keep_lorentz_equivariance(generator):
    group = Lorentz()
    rep_in, rep_out = parse("4*V", group), parse("V0", group)
    model = build("emlp", rep_in, rep_out, ["Lorentz"], ch=16, num_layers=1,
                  generator=generator).double()  # fmt: skip
    x = torch.randn(64, 16, generator=generator, dtype=torch.float64)
    sizes = torch.tensor([0.1, 1.0, 3.0, 10.0], dtype=torch.float64)
    x = x * sizes.repeat_interleave(4)
    scale = copy_rms(rep_in, x)
    assert scale.unique().numel() == 4  # one per four-vector
    wrapped = Standardize(model, scale, 2.5, 7.0, d_in=16, d_out=1).double()
    assert_equivariant(wrapped, rep_in, rep_out, n_elements=4, scale=0.3,
                       check="model", generator=generator)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x_scale=torch.tensor([1.0, 0.0])), "x_scale must be > 0"),
        (dict(y_scale=-1.0), "y_scale must be > 0"),
        (dict(x_scale=torch.ones(3)), r"x_scale must be .* shape \(2,\)"),
        (dict(y_mean=float("nan")), "y_mean must be a finite"),
    ],
)
def test_bad_statistics_are_named(kwargs, match):
    args = {"x_scale": 1.0, "y_mean": 0.0, "y_scale": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        Standardize(torch.nn.Linear(2, 1), **args, d_in=2, d_out=1)


def test_wrong_width_is_named():
    f = Standardize(torch.nn.Linear(2, 1), 1.0, 0.0, 1.0, d_in=2, d_out=1)
    with pytest.raises(ValueError, match=r"inputs of shape \(batch, 2\)"):
        f(torch.zeros(4, 3))
