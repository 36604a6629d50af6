"""Tests for data-matched scalings in the symmetry cost: the split of a group into
scalings and a compact part, the matched scale factors, and what they do to the
cost of exact and broken scale symmetries."""

from __future__ import annotations

import pytest
import torch

from softeq.groups import get
from softeq.metrics import symmetry_cost
from softeq.metrics._scalings import matched_scalings, scaling_split
from softeq.reps import parse

F64 = torch.float64


@pytest.mark.parametrize(
    ("name", "rep", "n_compact", "n_scalars"),
    [("Scale3", "3*V", 0, 0), ("SO3xScale3", "3*V", 3, 0),
     ("Scale3", "5*V0+5*V", 0, 5)],
)  # fmt: skip
def test_split_of_scalings_times_a_compact_group(
    name, rep, n_compact, n_scalars, generator
):
    G = get(name)
    split = scaling_split(G, parse(rep, G), parse("V0", G))
    assert split is not None and split.degree == 1
    assert split.compact.lie_algebra.shape[0] == n_compact
    assert split.compact.is_orthogonal()
    cs = split.compact.sample(8, generator=generator)
    torch.testing.assert_close(
        cs @ cs.transpose(-1, -2), torch.eye(3, dtype=F64).expand(8, 3, 3)
    )
    assert int((split.degrees_in == 0).sum()) == n_scalars
    assert int((split.degrees_in == 1).sum()) == parse(rep, G).dim - n_scalars
    assert (split.degrees_out == 0).all()


@pytest.mark.parametrize(
    ("name", "rep"),
    [("O3", "3*V"), ("GL3", "3*V"), ("Lorentz", "V"), ("SL3", "V"), ("Scale3", "V+V2"),
     ("Scale3", "V0")],
)  # fmt: skip
def test_no_split_where_the_group_or_the_layout_does_not_allow_it(name, rep):
    G = get(name)
    assert scaling_split(G, parse(rep, G), parse(rep, G)) is None


def test_matched_scalings_take_each_input_to_the_scale_of_another(generator):
    G = get("Scale3")
    rep = parse("2*V0+2*V", G)
    split = scaling_split(G, rep, parse("V0", G))
    x = torch.randn(50, rep.dim, dtype=F64, generator=generator)
    x[3, 2:] = 0.0  # an input whose moved part is zero keeps s = 1
    s = matched_scalings(split, x, 6, torch.Generator().manual_seed(1))
    partner = torch.randint(50, (6, 50), generator=torch.Generator().manual_seed(1))
    r = x[:, 2:].norm(dim=1)
    expected = torch.where((r > 0) & (r[partner] > 0), r[partner] / r, 1.0)
    torch.testing.assert_close(s, expected.to(F64))
    assert (s[:, 3] == 1).all() and (s > 0).all()


def _cosine(x: torch.Tensor) -> torch.Tensor:
    """Mean cyclic cosine similarity of three points: scale-invariant."""
    p = x.view(-1, 3, 3)
    q = p.roll(1, dims=1)
    return torch.nn.functional.cosine_similarity(p, q, dim=-1).mean(-1, keepdim=True)


def _log_scale(x: torch.Tensor) -> torch.Tensor:
    return x.view(-1, 3, 3).norm(dim=-1).mean(-1, keepdim=True).log()


@pytest.fixture
def points(generator):
    return torch.randn(4000, 9, dtype=F64, generator=generator)


def test_exact_scale_invariance_costs_nothing_although_the_model_fails_off_the_data(
    points, generator
):
    # the model is right near the data's typical scale and wrong away from it, as a
    # trained network is: sampled scalings pay that extrapolation error, scalings
    # matched to the data do not
    G = get("SO3xScale3")
    rep_in, rep_out = parse("3*V", G), parse("V0", G)
    y = _cosine(points) + 0.05 * torch.randn(
        len(points), 1, dtype=F64, generator=generator
    )
    centre = _log_scale(points).mean()

    def model(x):
        return _cosine(x) + 0.3 * (_log_scale(x) - centre).square()

    data = symmetry_cost(model, rep_in, rep_out, G, points, y, 16,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    sampled = symmetry_cost(model, rep_in, rep_out, G, points, y, 16, scale=0.3,
                            scalings="sampled",
                            generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert abs(data.cost) < 4 * data.stderr + 0.02
    assert sampled.cost > 0.5


def test_broken_scale_invariance_stays_broken(points, generator):
    # c - mean norm: predicting at another input's scale changes the target a lot
    G = get("Scale3")
    rep_in, rep_out = parse("3*V", G), parse("V0", G)

    def truth(x):
        return _cosine(x) - _log_scale(x).exp()

    y = truth(points) + 0.05 * torch.randn(
        len(points), 1, dtype=F64, generator=generator
    )
    result = symmetry_cost(truth, rep_in, rep_out, G, points, y, 16,
                           generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert result.cost > 10


def test_compact_groups_are_unchanged(points, generator):
    G = get("O3")
    rep_in, rep_out = parse("3*V", G), parse("V0", G)
    y = _cosine(points)
    W = torch.randn(9, 1, dtype=F64, generator=generator)
    costs = [
        symmetry_cost(lambda x: x @ W, rep_in, rep_out, G, points, y, 8,
                      scalings=kind, generator=torch.Generator().manual_seed(0))
        for kind in ("data", "sampled")
    ]  # fmt: skip
    assert costs[0] == costs[1]


def test_bad_scalings_argument(points):
    G = get("Scale3")
    rep = parse("3*V", G)
    with pytest.raises(ValueError, match="scalings must be 'data' or 'sampled'"):
        symmetry_cost(lambda x: x[:, :1], rep, parse("V0", G), G, points,
                      points[:, :1], scalings="matched")  # fmt: skip
