"""The breaking: a share of Var(y) that means the same for a model and the truth."""

from __future__ import annotations

import pytest
import torch

from softeq.groups import get
from softeq.metrics import symmetry_cost, true_breaking
from softeq.reps import parse

D = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))


def linear(x):
    return x @ D


def vectors(n, generator):
    return torch.randn(n, 3, dtype=torch.float64, generator=generator)


def test_matches_the_closed_form_for_gaussian_inputs(generator):
    # y = Dx, D = diag(1, 1, 0), x ~ N(0, I): predicting through g gives
    # g^T D g x, so L_G - L = E_g |g^T D g - D|_F^2 / 3 per entry, and
    # 2 Var(y) = 4/3: the breaking is E_g |g^T D g - D|_F^2 / 4. (For Haar
    # elements of O(2)_x that is 1/4, the share of Var(y) that the best
    # O(2)_x-equivariant map, diag(1, 1/2, 1/2), leaves unexplained; the sampler
    # concentrates rotations near the identity, so it reads somewhat less.)
    rep = parse("V", get("O3"))
    x = vectors(20000, generator)
    G = get("O2x")
    b = true_breaking(linear, rep, rep, G, x, n_samples=512, seed=5)
    gs = G.sample(512, generator=torch.Generator().manual_seed(5))
    closed = float((gs.transpose(1, 2) @ D @ gs - D).square().sum((1, 2)).mean()) / 4
    assert 0.1 < closed < 0.25
    assert b == pytest.approx(closed, rel=0.05)
    assert abs(true_breaking(linear, rep, rep, get("O2z"), x)) < 1e-12


def test_a_fitted_model_measures_the_truths_number(generator):
    # the model is the truth, the targets carry noise: L_G - L estimates the same
    # breaking as the truth measures, and the interval covers it
    rep = parse("V", get("O3"))
    x = vectors(3000, generator)
    y = linear(x) + 0.3 * vectors(3000, generator)
    gen = torch.Generator().manual_seed(1)
    cost = symmetry_cost(linear, rep, rep, get("O2x"), x, y, 64, generator=gen)
    low, high = cost.breaking_interval()
    truth = true_breaking(linear, rep, rep, get("O2x"), x, n_samples=64, seed=1)
    assert low < truth < high
    assert cost.breaking_stderr > 0 and high - low < 0.1
    # divided by twice the targets' variance per entry
    assert cost.variance == pytest.approx(float(y.var(0, correction=0).mean()))
    assert cost.breaking == pytest.approx(
        (cost.transformed_mse - cost.mse) / (2 * cost.variance)
    )


def test_few_group_elements_widen_the_interval(generator):
    # the crossed standard error counts the spread over the sampled elements: with
    # 2 elements it is wider than with 64, even on the same inputs
    rep = parse("V", get("O3"))
    x = vectors(2000, generator)
    y = linear(x)

    def se(k):
        gen = torch.Generator().manual_seed(3)
        return symmetry_cost(linear, rep, rep, get("O2x"), x, y, k,
                             generator=gen).breaking_stderr  # fmt: skip

    assert se(2) > se(64)


def test_exact_symmetry_costs_nothing_for_any_model(generator):
    # O(2)_z is exact for the data; an unrelated model breaks it itself, yet the
    # breaking of the data reads ~0 within its interval
    rep = parse("V", get("O3"))
    x = vectors(3000, generator)
    y = linear(x)
    W = torch.randn(3, 3, dtype=torch.float64, generator=generator)
    gen = torch.Generator().manual_seed(2)
    cost = symmetry_cost(lambda v: v @ W, rep, rep, get("O2z"), x, y, 64,
                         generator=gen)  # fmt: skip
    low, high = cost.breaking_interval()
    assert low < 0 < high
