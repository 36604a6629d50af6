"""`outside_data_share`: the share of moved inputs that leave the data."""

from __future__ import annotations

import pytest
import torch

from softeq.groups import get
from softeq.metrics import outside_data_share, symmetry_cost
from softeq.metrics._support import MAX_MOVED, MAX_REFERENCE, probe_indices
from softeq.reps import parse


def moved_by(group: str, x, generator, k: int = 8):
    """Every input of `x` moved by each of `k` sampled elements, with sources."""
    G = get(group)
    gs = G.sample(k, generator=generator).double()
    moved = parse("V", G).act(gs[:, None], x).reshape(-1, 3)
    return moved, torch.arange(x.shape[0]).repeat(k)


@pytest.mark.parametrize("group", ["O3", "O2x", "O2z"])
def test_a_group_that_preserves_the_inputs_distribution_leaves_five_percent(
    group, generator
):
    # isotropic Gaussian inputs: every rotation maps the distribution to itself,
    # so a moved input is one more draw and lands outside by chance only
    x = torch.randn(800, 3, dtype=torch.float64, generator=generator)
    moved, source = moved_by(group, x, generator)
    assert 0.02 < outside_data_share(x, moved, source) < 0.10


def test_tipping_planar_data_moves_them_outside_turning_them_does_not(generator):
    x = torch.randn(800, 3, dtype=torch.float64, generator=generator)
    x[:, 2] = 0  # every input in the plane z = 0, isotropic in it
    turned, source = moved_by("O2z", x, generator)
    tipped, _ = moved_by("O2x", x, generator)
    assert outside_data_share(x, turned, source) < 0.10
    assert outside_data_share(x, tipped, source) > 0.4


def test_each_input_is_left_out_of_its_own_distance(generator):
    # the identity moves nothing: with its source left out, an input is as far
    # from the rest as its own nearest-neighbour distance (the 5 % above the
    # quantile); counted against itself it would be at distance 0
    x = torch.randn(400, 3, dtype=torch.float64, generator=generator)
    share = outside_data_share(x, x.clone(), torch.arange(400))
    assert share == pytest.approx(0.05, abs=0.005)
    assert outside_data_share(x, x.clone(), torch.full((400,), -1)) == 0.0


def test_bad_arguments_are_refused(generator):
    x = torch.randn(10, 3, generator=generator)
    with pytest.raises(ValueError, match="two reference inputs"):
        outside_data_share(x[:1], x, torch.arange(10))
    with pytest.raises(ValueError, match="do not match"):
        outside_data_share(x, x[:, :2], torch.arange(10))
    with pytest.raises(ValueError, match="one index per moved input"):
        outside_data_share(x, x, torch.arange(9))
    with pytest.raises(ValueError, match="quantile"):
        outside_data_share(x, x, torch.arange(10), quantile=1.0)


def test_probes_are_bounded_and_evenly_spaced():
    reference, moved = probe_indices(100_000, 4)
    assert len(reference) == MAX_REFERENCE and len(moved) == MAX_MOVED // 4
    assert reference[0] == 0 and reference[-1] == 99_999
    assert torch.all(reference[1:] > reference[:-1])


def test_the_cost_measures_it_without_drawing_from_the_generator(generator):
    # the share comes with the breaking, and the breaking is the same as it would
    # be without it: the probes draw nothing from the caller's generator
    G = get("O2x")
    rep = parse("V", G)
    x = torch.randn(300, 3, dtype=torch.float64, generator=generator)
    x[:, 2] = 0
    f = lambda v: 2 * v  # noqa: E731
    y = f(x)
    costs = [
        symmetry_cost(
            f, rep, rep, G, x, y, 8, generator=torch.Generator().manual_seed(3)
        )
        for _ in range(2)
    ]
    assert costs[0] == costs[1]
    assert costs[0].outside_data > 0.4
    after = torch.Generator().manual_seed(3)
    symmetry_cost(f, rep, rep, G, x, y, 8, generator=after)
    fresh = torch.Generator().manual_seed(3)
    G.sample(8, generator=fresh)
    assert torch.equal(torch.rand(4, generator=after), torch.rand(4, generator=fresh))


def test_callers_that_do_not_read_it_skip_it(generator):
    G = get("O2x")
    rep = parse("V", G)
    x = torch.randn(100, 3, dtype=torch.float64, generator=generator)
    f = lambda v: 2 * v  # noqa: E731
    kept = symmetry_cost(f, rep, rep, G, x, f(x), 4,
                         generator=torch.Generator().manual_seed(1))  # fmt: skip
    skipped = symmetry_cost(f, rep, rep, G, x, f(x), 4, outside=False,
                            generator=torch.Generator().manual_seed(1))  # fmt: skip
    assert skipped.outside_data is None and kept.outside_data is not None
    assert skipped.breaking == kept.breaking
