"""Tests for `symmetry_cost`: zero for exact symmetries whatever the model, large
for broken ones, invariant to equivariant baselines and to the loss scale."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from softeq.basis import BlockProjector
from softeq.groups import Group, get
from softeq.metrics import SymmetryCost, equivariance_error, symmetry_cost
from softeq.metrics import _cost as cost_module
from softeq.reps import parse
from softeq.testing import TOL

F64 = torch.float64


def equivariant_map(group: Group, generator: torch.Generator):
    """A random float64 linear map V0+V -> V that commutes with `group`."""
    rep_in, rep_out = parse("V0+V", group), parse("V", group)
    P = BlockProjector(rep_in, rep_out)
    W = P.project(torch.randn(rep_out.dim, rep_in.dim, dtype=F64, generator=generator))
    return rep_in, rep_out, (lambda x: x @ W.T)


@pytest.mark.parametrize("name", ["O3", "O2z", "SO3", "Scale3", "SO3xScale3", "S3"])
def test_zero_for_an_equivariant_model(name, generator):
    # rho_out(g)^-1 f(rho_in(g) x) = f(x) exactly, so L_G = L whatever the targets
    G = get(name)
    rep_in, rep_out, f = equivariant_map(G, generator)
    x = torch.randn(64, rep_in.dim, dtype=F64, generator=generator)
    y = torch.randn(64, rep_out.dim, dtype=F64, generator=generator)
    result = symmetry_cost(f, rep_in, rep_out, G, x, y, 8, generator=generator,
                           scale=G.sample_scale)  # fmt: skip
    assert isinstance(result, SymmetryCost)
    assert abs(result.cost) <= TOL["model"][F64]
    assert result.mse > 0 and result.transformed_mse == pytest.approx(result.mse)


def test_zero_in_expectation_for_a_non_equivariant_model_on_exact_data(generator):
    # y = 2x + noise is O(3)-equivariant and x is isotropic: predicting through g
    # with a dense W has the same expected error as predicting directly
    G = get("O3")
    rep = parse("V", G)
    W = torch.randn(3, 3, dtype=F64, generator=generator)
    x = torch.randn(20_000, 3, dtype=F64, generator=generator)
    y = 2 * x + 0.3 * torch.randn(20_000, 3, dtype=F64, generator=generator)
    f = lambda v: v @ W.T  # noqa: E731
    assert equivariance_error(f, rep, rep, G, x[:256], 8, generator=generator) > 0.2
    result = symmetry_cost(f, rep, rep, G, x, y, 64, generator=generator)
    assert abs(result.cost) < 4 * result.stderr + 0.02
    # averaging over the group keeps only W's commuting part, tr(W)/3 I: it is
    # closer to 2I than W is (Pythagoras), so the averaged model predicts better
    assert result.averaged_mse < 0.9 * result.mse


@pytest.mark.parametrize("name", ["O3", "O2x", "Scale3", "S3"])
def test_averaging_never_loses_to_single_transforms(name, generator):
    # per input, the squared error of a mean is at most the mean squared error
    G = get(name)
    rep = parse("V", G)
    W = torch.randn(3, 3, dtype=F64, generator=generator)
    x = torch.randn(200, 3, dtype=F64, generator=generator)
    y = torch.randn(200, 3, dtype=F64, generator=generator)
    result = symmetry_cost(lambda v: torch.tanh(v @ W), rep, rep, G, x, y, 8,
                           generator=generator, scale=G.sample_scale)  # fmt: skip
    assert result.averaged_mse <= result.transformed_mse * (1 + 1e-12)


def test_large_for_a_broken_symmetry(generator):
    # negative control: targets D x with D = diag(1, 1, 0) respect O(2)_z only
    G = get("O3")
    rep = parse("V", G)
    D = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=F64))
    x = torch.randn(2000, 3, dtype=F64, generator=generator)
    y = x @ D + 0.1 * torch.randn(2000, 3, dtype=F64, generator=generator)
    fitted = lambda v: v @ D  # noqa: E731
    costs = {
        name: symmetry_cost(
            fitted, rep, rep, get(name), x, y, 32, generator=generator
        )  # fmt: skip
        for name in ("O2z", "O2x", "O3")
    }
    assert abs(costs["O2z"].cost) < 1e-9
    assert costs["O2x"].cost > 10 and costs["O3"].cost > 10
    assert costs["O2x"].cost > 4 * costs["O2x"].stderr  # crossed se: 32 elements


def test_unchanged_by_an_equivariant_baseline_and_by_scale(generator):
    # the residual-target case: f + h against y + h(x), h equivariant (e.g. constant
    # velocity), has the cost of f against y; and the cost is scale-free
    G = get("O2z")
    rep_in, rep_out, h = equivariant_map(G, generator)
    W = torch.randn(rep_out.dim, rep_in.dim, dtype=F64, generator=generator)
    x = torch.randn(300, rep_in.dim, dtype=F64, generator=generator)
    y = torch.randn(300, rep_out.dim, dtype=F64, generator=generator)

    def f(v: Tensor) -> Tensor:
        return torch.tanh(v @ W.T)

    def cost(model, targets) -> float:
        gen = torch.Generator().manual_seed(3)
        return symmetry_cost(model, rep_in, rep_out, G, x, targets, 8,
                             generator=gen).cost  # fmt: skip

    base = cost(f, y)
    assert cost(lambda v: f(v) + h(v), y + h(x)) == pytest.approx(base, rel=1e-9)
    assert cost(lambda v: 5 * f(v), 5 * y) == pytest.approx(base, rel=1e-9)


def test_chunked_calls_give_the_same_cost(generator, monkeypatch):
    G = get("O3")
    rep = parse("2*V", G)
    W = torch.randn(6, 6, dtype=F64, generator=generator)
    x = torch.randn(50, 6, dtype=F64, generator=generator)
    y = torch.randn(50, 6, dtype=F64, generator=generator)
    calls = []

    def f(v: Tensor) -> Tensor:
        calls.append(len(v))
        return torch.sin(v @ W)

    def cost() -> float:
        gen = torch.Generator().manual_seed(1)
        return symmetry_cost(f, rep, rep, G, x, y, 12, generator=gen).cost

    whole = cost()
    monkeypatch.setattr(cost_module, "_ROWS_PER_CALL", 120)  # 2 samples per call
    chunked = cost()
    assert chunked == pytest.approx(whole, rel=1e-12)
    assert calls[-6:] == [100] * 6


def test_exact_model_cost_is_finite(generator):
    # L = 0: the floor (1e-12 of the targets' variance) keeps the cost finite
    G = get("O3")
    rep = parse("V", G)
    D = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=F64))
    x = torch.randn(100, 3, dtype=F64, generator=generator)
    f = lambda v: v @ D  # noqa: E731
    result = symmetry_cost(f, rep, rep, G, x, f(x), 4, generator=generator)
    assert result.mse < 1e-25 and 1e6 < result.cost < float("inf")


@pytest.mark.parametrize(
    ("y_shape", "n_samples", "match"),
    [((10, 2), 4, r"targets y of shape \(10, 3\)"), ((10, 3), 0, "n_samples >= 1")],
)
def test_rejects_bad_targets_and_samples(y_shape, n_samples, match):
    G = get("O3")
    rep = parse("V", G)
    x, y = torch.zeros(10, 3, dtype=F64), torch.zeros(*y_shape, dtype=F64)
    with pytest.raises(ValueError, match=match):
        symmetry_cost(lambda v: v, rep, rep, G, x, y, n_samples)


def test_rejects_targets_that_are_not_a_tensor():
    G = get("O3")
    rep = parse("V", G)
    with pytest.raises(ValueError, match="got y list"):
        symmetry_cost(lambda v: v, rep, rep, G, torch.zeros(4, 3), [[0.0] * 3] * 4)


def test_rejects_a_single_input():
    G = get("O3")
    rep = parse("V", G)
    with pytest.raises(ValueError, match="at least 2 inputs"):
        symmetry_cost(lambda v: v, rep, rep, G, torch.zeros(1, 3), torch.zeros(1, 3))
