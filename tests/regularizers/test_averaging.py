"""Tests for `GroupAveraged`: exact equivariance over a whole finite group, an
equivariant model left unchanged, and agreement with the report's averaged MSE."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.metrics import symmetry_cost
from softeq.regularizers import GroupAveraged
from softeq.reps import parse
from softeq.testing import TOL, relative_error

F64 = torch.float64


def whole_dihedral(n: int):
    """All 2n elements of D(n) on R^2, each once: rotations r^k and r^k s."""
    G = get(f"D{n}")
    angle = torch.tensor(2 * torch.pi / n, dtype=F64)
    r = torch.stack(
        [
            torch.stack([angle.cos(), -angle.sin()]),
            torch.stack([angle.sin(), angle.cos()]),
        ]
    )
    s = torch.diag(torch.tensor([1.0, -1.0], dtype=F64))
    turns = [torch.linalg.matrix_power(r, k) for k in range(n)]
    return G, torch.stack(turns + [t @ s for t in turns])


def test_exactly_equivariant_over_a_whole_finite_group(generator):
    G, elements = whole_dihedral(6)
    rep_in, rep_out = parse("V0+2*V", G), parse("V+V2", G)
    mlp = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 6)).double()
    f = GroupAveraged(mlp, G, rep_in, rep_out, elements=elements)
    x = torch.randn(7, rep_in.dim, dtype=F64, generator=generator)
    for g in G.sample(5, generator=generator):
        lhs = f(x @ rep_in.rho(g).T)
        rhs = f(x) @ rep_out.rho(g).T
        assert relative_error(lhs, rhs) <= TOL["model"][F64]
    assert relative_error(mlp(x @ rep_in.rho(elements[1]).T), mlp(x)) > 0.01


@pytest.mark.parametrize("name", ["O3", "O2z", "Scale3", "SO3xScale3"])
def test_an_equivariant_model_is_unchanged(name, generator):
    G = get(name)
    rep_in, rep_out = parse("V0+V", G), parse("V", G)
    P = BlockProjector(rep_in, rep_out)
    W = P.project(torch.randn(3, 4, dtype=F64, generator=generator))
    model = lambda x: x @ W.T  # noqa: E731
    f = GroupAveraged(model, G, rep_in, rep_out, n_samples=6, generator=generator,
                      scale=G.sample_scale)  # fmt: skip
    x = torch.randn(10, 4, dtype=F64, generator=generator)
    assert relative_error(f(x), model(x)) <= TOL["model"][F64]


def test_matches_the_reports_averaged_mse(generator):
    # same sampler and seed as symmetry_cost: the report's column is this model's MSE
    G = get("O3")
    rep = parse("2*V", G)
    mlp = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 6)).double()
    x = torch.randn(40, 6, dtype=F64, generator=generator)
    y = torch.randn(40, 6, dtype=F64, generator=generator)
    averaged = GroupAveraged(mlp, G, rep, rep, n_samples=9,
                             generator=torch.Generator().manual_seed(4))  # fmt: skip
    cost = symmetry_cost(mlp, rep, rep, G, x, y, 9,
                         generator=torch.Generator().manual_seed(4))  # fmt: skip
    with torch.no_grad():
        mse = float((averaged(x) - y).square().mean())
    assert mse == pytest.approx(cost.averaged_mse, rel=1e-10)


def test_deterministic_buffers_follow_the_module(generator):
    G = get("O2z")
    rep = parse("V", G)
    f = GroupAveraged(nn.Linear(3, 3), G, rep, rep, n_samples=4, generator=generator)
    assert f.rho_in.shape == (4, 3, 3) and "rho_in" in f.state_dict()
    x = torch.randn(3, 3, generator=generator)
    assert torch.equal(f(x), f(x))
    assert f.double()(x.double()).dtype == F64
    assert "elements=4" in repr(f)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples must be an int >= 1"),
        ({"elements": torch.eye(2).expand(3, 2, 2)}, r"shape \(K >= 1, 3, 3\)"),
        ({"elements": torch.zeros(0, 3, 3)}, r"shape \(K >= 1, 3, 3\)"),
    ],
)
def test_rejects_bad_elements(kwargs, match):
    G = get("O3")
    rep = parse("V", G)
    with pytest.raises(ValueError, match=match):
        GroupAveraged(nn.Linear(3, 3), G, rep, rep, **kwargs)


def test_rejects_wrong_input_and_output(generator):
    G = get("O3")
    rep = parse("V", G)
    f = GroupAveraged(nn.Linear(3, 2), G, rep, rep, n_samples=2, generator=generator)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 3\)"):
        f(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"to \(batch, 3\)"):
        f(torch.zeros(4, 3))
