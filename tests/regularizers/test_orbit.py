"""Tests for `OrbitPenalty`, the sample-based per-group equivariance penalty."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.regularizers import OrbitPenalty
from softeq.reps import Rep, parse
from softeq.testing import TOL

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]
# A clearly broken symmetry: relative penalty far above any round-off.
BROKEN = 1e-3


def projected_linear(
    rep_in: Rep, rep_out: Rep, generator: torch.Generator, dtype=torch.float64
) -> nn.Linear:
    """A dense layer whose weight and bias are projected onto rep_in.group's maps."""
    layer = nn.Linear(rep_in.dim, rep_out.dim, dtype=torch.float64)
    projector = BlockProjector(rep_in, rep_out)
    W = torch.randn(rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator)
    b = torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        layer.weight.copy_(projector.project(W))
        layer.bias.copy_(projector.project_bias(b))
    return layer.to(dtype)


def relative(term: Tensor, fx: Tensor) -> float:
    """$\\sqrt{R / E\\|f(x)\\|^2}$: the penalty on the scale of the outputs."""
    return float((term / fx.square().sum(-1).mean()).sqrt().detach())


def inputs(rep: Rep, generator: torch.Generator, n: int = 16, dtype=torch.float64):
    return torch.randn(n, rep.dim, dtype=torch.float64, generator=generator).to(dtype)


def reference(f, rep_in, rep_out, groups, x, n_samples, generator, scale=1.0):
    """Unvectorised penalty: one group element at a time."""
    out = {}
    for G in groups:
        r_in, r_out = rep_in.with_group(G), rep_out.with_group(G)
        gs = G.sample(n_samples, scale=scale, generator=generator)
        terms = [(f(r_in.act(g, x)) - r_out.act(g, f(x))).square().sum(-1) for g in gs]
        out[G.name] = torch.stack(terms).mean()
    return out


@pytest.mark.parametrize("name", ["O3", "SO3", "O2z", "S5", "Scale3", "GL3"])
def test_zero_for_scalar_multiple_of_identity(name, generator):
    G = get(name)
    rep = parse("2*V", G)
    scale = G.sample_scale  # bounded samples for non-compact groups
    penalty = OrbitPenalty(lambda x: -2.0 * x, rep, rep, [G], n_samples=4, scale=scale)
    x = inputs(rep, generator)
    term = penalty(x, generator=generator)[name]
    assert relative(term, 2 * x) <= TOL["layer"][torch.float64]


def test_zero_on_projected_map_for_every_subgroup(generator):
    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2+V0", G)
    f = projected_linear(rep_in, rep_out, generator)
    penalty = OrbitPenalty(f, rep_in, rep_out, [get(n) for n in CANDIDATES])
    x = inputs(rep_in, generator)
    terms = penalty(x, generator=generator)
    assert list(terms) == CANDIDATES
    for term in terms.values():
        assert relative(term, f(x)) <= TOL["layer"][torch.float64]


def test_only_the_broken_group_is_penalised(generator):
    O2z = get("O2z")
    rep_in, rep_out = parse("5*V0+5*V", O2z), parse("V2", O2z)
    f = projected_linear(rep_in, rep_out, generator)
    penalty = OrbitPenalty(f, rep_in, rep_out, [get("O2z"), get("O2x"), get("O3")])
    x = inputs(rep_in, generator)
    terms = {k: relative(v, f(x)) for k, v in penalty(x, generator=generator).items()}
    assert terms["O2z"] <= TOL["layer"][torch.float64]
    assert terms["O2x"] > BROKEN
    assert terms["O3"] > BROKEN


def test_positive_on_random_dense_map(generator):
    G = get("O3")
    rep_in, rep_out = parse("3*V", G), parse("V+V0", G)
    f = nn.Linear(rep_in.dim, rep_out.dim, dtype=torch.float64)
    x = inputs(rep_in, generator)
    terms = OrbitPenalty(f, rep_in, rep_out, [G])(x, generator=generator)
    assert relative(terms["O3"], f(x)) > BROKEN


def test_matches_unvectorised_reference(generator):
    G = get("O3")
    rep_in, rep_out = parse("2*V0+2*V", G), parse("V2", G)
    f = nn.Sequential(
        nn.Linear(rep_in.dim, 16), nn.Tanh(), nn.Linear(16, rep_out.dim)
    ).double()
    groups = [get(n) for n in CANDIDATES]
    x = inputs(rep_in, generator)
    seed = int(torch.randint(0, 2**31, (1,), generator=generator))
    got = OrbitPenalty(f, rep_in, rep_out, groups, n_samples=3)(
        x, generator=torch.Generator().manual_seed(seed)
    )
    want = reference(
        f, rep_in, rep_out, groups, x, 3, torch.Generator().manual_seed(seed)
    )
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-12, atol=0.0)


def test_one_batched_call_on_all_transformed_inputs(generator):
    G = get("O3")
    rep = parse("3*V", G)
    shapes = []

    def f(x: Tensor) -> Tensor:
        shapes.append(tuple(x.shape))
        return x

    penalty = OrbitPenalty(f, rep, rep, [get(n) for n in CANDIDATES], n_samples=5)
    penalty(inputs(rep, generator, n=7), generator=generator)
    assert shapes == [(7, 9), (4 * 5 * 7, 9)]


def test_gradients_flow_and_descent_reduces_penalty(generator):
    G = get("O3")
    rep_in, rep_out = parse("3*V", G), parse("V", G)
    f = nn.Linear(rep_in.dim, rep_out.dim, dtype=torch.float64)
    penalty = OrbitPenalty(f, rep_in, rep_out, [G], n_samples=4)
    x = inputs(rep_in, generator)

    def value() -> Tensor:
        return penalty(x, generator=torch.Generator().manual_seed(1))["O3"]

    before = value()
    before.backward()
    assert f.weight.grad is not None and f.weight.grad.norm() > 0
    with torch.no_grad():
        for p in f.parameters():
            p -= 1e-3 * p.grad
    assert value() < before


def test_owns_no_parameters(generator):
    G = get("O3")
    rep = parse("V", G)
    f = nn.Linear(3, 3)
    penalty = OrbitPenalty(f, rep, rep, [G])
    assert penalty.f is f
    assert list(penalty.parameters()) == []
    assert penalty.state_dict() == {}


def test_reproducible_with_generator():
    G = get("O3")
    rep = parse("2*V", G)
    f = nn.Linear(6, 6, dtype=torch.float64)
    penalty = OrbitPenalty(f, rep, rep, [G, get("O2z")])
    x = torch.randn(8, 6, dtype=torch.float64)
    a = penalty(x, generator=torch.Generator().manual_seed(3))
    b = penalty(x, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_float32_smoke(generator):
    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
    f = projected_linear(rep_in, rep_out, generator, dtype=torch.float32)
    x = inputs(rep_in, generator, dtype=torch.float32)
    terms = OrbitPenalty(f, rep_in, rep_out, [G, get("O2z")])(x, generator=generator)
    for term in terms.values():
        assert term.dtype == torch.float32 and term.ndim == 0
        assert relative(term, f(x)) <= TOL["layer"][torch.float32]


def test_repr_names_groups():
    G = get("O3")
    rep = parse("V", G)
    text = repr(OrbitPenalty(lambda x: x, rep, rep, [G, get("O2z")], n_samples=2))
    assert "O3" in text and "O2z" in text and "n_samples=2" in text


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ([], "at least one"),
        (["O3", "O3"], "distinct"),
        (["O3", "O5"], "R\\^5"),
        (["S4"], "R\\^4"),
    ],
    ids=["empty", "duplicate", "other-d", "permutation-d"],
)
def test_rejects_bad_groups(groups, match):
    rep = parse("V", get("O3"))
    with pytest.raises(ValueError, match=match):
        OrbitPenalty(lambda x: x, rep, rep, [get(n) for n in groups])


@pytest.mark.parametrize("n_samples", [0, -1, 2.0])
def test_rejects_bad_n_samples(n_samples):
    rep = parse("V", get("O3"))
    with pytest.raises(ValueError, match="n_samples"):
        OrbitPenalty(lambda x: x, rep, rep, [get("O3")], n_samples=n_samples)


def test_rejects_reps_of_different_d():
    with pytest.raises(ValueError, match="same R\\^d"):
        OrbitPenalty(lambda x: x, parse("V", get("O3")), parse("V", get("O5")), [])


@pytest.mark.parametrize("shape", [(4, 5), (6,), (2, 3, 6), (0, 6)])
def test_rejects_bad_input_shape(shape):
    rep = parse("2*V", get("O3"))
    penalty = OrbitPenalty(lambda x: x, rep, rep, [get("O3")])
    with pytest.raises(ValueError, match="\\(batch"):
        penalty(torch.zeros(shape))


def test_rejects_bad_model_output():
    rep = parse("2*V", get("O3"))
    penalty = OrbitPenalty(lambda x: x[:, :3], rep, rep, [get("O3")])
    with pytest.raises(ValueError, match="rep_out"):
        penalty(torch.zeros(4, 6))


def test_rows_reads_a_uniform_random_subset_with_the_same_elements(generator):
    """`rows` reads a uniformly drawn subset of the batch (`randperm` of the
    call's generator, before the elements are drawn): the penalty is the full
    penalty of those rows, so its mean over calls is the full batch's $R_j$."""
    rep = parse("2*V", get("O3"))
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 6)).double()
    x = inputs(rep, generator, n=64)
    full = OrbitPenalty(model, rep, rep, ["O3", "O2z"], n_samples=2)
    sub = OrbitPenalty(model, rep, rep, ["O3", "O2z"], n_samples=2, rows=0.125)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        terms = sub(x, gen)
        replay = torch.Generator().manual_seed(1)
        rows = torch.randperm(64, generator=replay)[:8]
        expected = full(x[rows], replay)
        for g in ("O3", "O2z"):
            assert torch.allclose(terms[g], expected[g])
        other = sub(x, torch.Generator().manual_seed(2))
        assert not torch.allclose(other["O3"], terms["O3"])  # other rows, elements


def test_rows_read_and_fx_reused(generator):
    rep = parse("V", get("O3"))
    calls = []

    def f(v):
        calls.append(v.shape[0])
        return 2 * v + v.square()

    x = inputs(rep, generator, n=40)
    penalty = OrbitPenalty(f, rep, rep, ["O3", "O2z"], n_samples=3, rows=5)
    penalty(x, generator, fx=f(x))
    # one call for fx (made by the caller), one on 2 groups x 3 samples x 5 rows
    assert calls == [40, 30]
    calls.clear()
    OrbitPenalty(f, rep, rep, ["O3"], n_samples=1, rows=0.5)(x, generator)
    assert calls == [40, 20]
    calls.clear()
    OrbitPenalty(f, rep, rep, ["O3"], n_samples=1, rows=100)(x, generator)
    assert calls == [40, 40]  # more rows than the batch: all of them


def test_given_fx_gives_the_same_penalty(generator):
    rep = parse("V", get("O3"))
    model = nn.Linear(3, 3).double()
    x = inputs(rep, generator)
    penalty = OrbitPenalty(model, rep, rep, ["O2z"], n_samples=2)
    a = penalty(x, torch.Generator().manual_seed(3))
    b = penalty(x, torch.Generator().manual_seed(3), fx=model(x))
    assert torch.equal(a["O2z"], b["O2z"])


@pytest.mark.parametrize("rows", [0, -1, 0.0, 1.5, True, "all"])
def test_bad_rows_are_refused(rows):
    rep = parse("V", get("O3"))
    with pytest.raises(ValueError, match="rows"):
        OrbitPenalty(lambda v: v, rep, rep, ["O3"], rows=rows)


def test_pool_draws_elements_for_several_calls_at_once(generator):
    """With `pool=3` the elements of three calls are drawn together: the first
    call draws, the next two use the pool in turn (different elements each),
    the fourth draws again."""
    rep = parse("V", get("O3"))
    penalty = OrbitPenalty(lambda v: v.square(), rep, rep, ["O3", "O2z"], n_samples=2,
                           pool=3)  # fmt: skip
    x = inputs(rep, generator, n=8)
    gen = torch.Generator().manual_seed(5)
    states, values = [], []
    for _ in range(4):
        values.append(penalty(x, gen)["O3"])
        states.append(gen.get_state())
    assert torch.equal(states[0], states[1]) and torch.equal(states[1], states[2])
    assert not torch.equal(states[2], states[3])
    assert len({float(v) for v in values}) == 4
    # the pool's three calls use, between them, the 6 elements one draw gives
    single = OrbitPenalty(lambda v: v.square(), rep, rep, ["O3"], n_samples=6)
    a = single(x, torch.Generator().manual_seed(9))["O3"]
    pooled = OrbitPenalty(lambda v: v.square(), rep, rep, ["O3"], n_samples=2, pool=3)
    gen = torch.Generator().manual_seed(9)
    b = [pooled(x, gen)["O3"] for _ in range(3)]
    assert torch.allclose(a, sum(b) / 3)


def test_bad_pool_is_refused():
    rep = parse("V", get("O3"))
    with pytest.raises(ValueError, match="pool"):
        OrbitPenalty(lambda v: v, rep, rep, ["O3"], pool=0)
