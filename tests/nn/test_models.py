from __future__ import annotations

import copy

import pytest
import torch

from softeq.groups import get
from softeq.nn.models import EMLP, MLP, RPPEMLP, SoftEMLP, allocate, build
from softeq.reps import parse
from softeq.testing import assert_equivariant

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def inertia_reps(G):
    return parse("5*V0+5*V", G), parse("V2", G)


def small_soft(generator, names=CANDIDATES, gate="plain"):
    Gs = [get(n) for n in names]
    rep_in, rep_out = inertia_reps(Gs[0])
    return SoftEMLP(rep_in, rep_out, Gs, ch=24, num_layers=2, gate=gate,
                    generator=generator).double()  # fmt: skip


@pytest.mark.parametrize(
    "ch, per, uniform",
    [
        (45, "18V0+6V+2V2", "18V0+6V+V2"),
        (128, "54V0+18V+6V2+2V3", "38V0+12V+3V2+V3"),
        (384, "108V0+36V+12V2+4V3", "102V0+34V+11V2+3V3"),
    ],
)
def test_allocations_match_the_reference_table(ch, per, uniform):
    G = get("O3")
    assert str(allocate(ch, G, "per")) == per
    assert str(allocate(ch, G, "uniform")) == uniform
    assert allocate(ch, G, "uniform").dim == ch


def test_allocation_rejects_bad_input():
    with pytest.raises(ValueError, match="allocation"):
        allocate(10, get("O3"), "nope")
    with pytest.raises(ValueError, match="ch must be"):
        allocate(0, get("O3"))


def test_reference_parameter_counts():
    G = get("O3")
    rep_in, rep_out = inertia_reps(G)
    assert build("per", rep_in, rep_out, CANDIDATES).num_parameters() == 164959
    assert build("mlp", rep_in, rep_out, CANDIDATES).num_parameters() == 36873


@pytest.mark.parametrize("name", CANDIDATES)
def test_projected_soft_emlp_is_equivariant_for_that_group_only(name, generator):
    model = small_soft(generator).project_(name)
    G = get(name)
    rep_in, rep_out = inertia_reps(G)
    assert_equivariant(model, rep_in, rep_out, check="model", generator=generator)
    if name == "O3":
        pytest.skip("every other candidate lies inside O3")
    other = get("O2x" if name != "O2x" else "O2y")
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(model, *inertia_reps(other), check="model",
                           generator=generator)  # fmt: skip


def test_soft_emlp_with_rpp_gate_needs_zero_gate_paths(generator):
    model = small_soft(generator, gate="rpp").project_("O3")
    rep_in, rep_out = inertia_reps(get("O3"))
    assert len(model.gate_parameters()) == 2
    with torch.no_grad():
        for p in model.gate_parameters():
            p.zero_()
    assert_equivariant(model, rep_in, rep_out, check="model", generator=generator)


@pytest.mark.parametrize("name", ["O3", "O2z", "SO3"])
def test_emlp_is_exactly_equivariant(name, generator):
    G = get(name)
    rep_in, rep_out = inertia_reps(G)
    model = EMLP(rep_in, rep_out, G, ch=24, num_layers=2, generator=generator).double()
    assert_equivariant(model, rep_in, rep_out, check="model", generator=generator)


def test_cossim_models_for_the_scaling_union(generator):
    Gs = [get(n) for n in ["SO3xScale3", "SO3", "Scale3"]]
    rep_in, rep_out = parse("3*V", Gs[0]), parse("V0", Gs[0])
    model = SoftEMLP(rep_in, rep_out, Gs, ch=24, num_layers=2, gate="plain",
                     generator=generator).double().project_("SO3xScale3")  # fmt: skip
    assert_equivariant(model, rep_in, rep_out, check="model", scale=0.3,
                       generator=generator)  # fmt: skip
    emlp = EMLP(rep_in, rep_out, Gs[0], ch=24, num_layers=2).double()
    assert_equivariant(emlp, rep_in, rep_out, check="model", scale=0.3,
                       generator=generator)  # fmt: skip


def test_cossim_models_on_the_rotations_map_vectors_to_a_constant(generator):
    """Why the check above holds, and why PER cannot win on cossim: a SoftEMLP's
    bilinear layers and gates are built for SO3xScale3, whose only invariants of
    vectors are constants (no product of vectors is invariant to $x \\mapsto sx$),
    so on SO3's maps, or the union's, it gives one output for every input; it
    cannot represent cosine similarity. EMLP(SO3xScale3) is constant too, while
    EMLP(SO3), whose bilinear layers form dot products, is not (docs/models.md)."""
    Gs = [get(n) for n in ["SO3xScale3", "SO3", "Scale3"]]
    rep_in, rep_out = parse("3*V", Gs[0]), parse("V0", Gs[0])
    x = torch.randn(64, 9, dtype=torch.float64, generator=generator)

    def spread(model):
        with torch.no_grad():
            y = model(x)
        return float(y.std() / y.abs().mean())

    soft = SoftEMLP(rep_in, rep_out, Gs, ch=128, num_layers=2, gate="plain",
                    generator=generator).double()  # fmt: skip
    assert spread(soft) > 1e-3
    assert spread(copy.deepcopy(soft).project_("SO3")) < 1e-6
    assert spread(soft.project_("SO3xScale3")) < 1e-6
    assert spread(EMLP(rep_in, rep_out, Gs[0], ch=24, num_layers=2).double()) < 1e-6
    so3 = parse("3*V", Gs[1]), parse("V0", Gs[1])
    assert spread(EMLP(*so3, Gs[1], ch=24, num_layers=2).double()) > 1e-3


def test_soft_emlp_with_nonlinearities_for_so3_represents_rotation_invariants(
    generator,
):
    """The fix of the test above: built for SO3 (`nonlinear_group`), the
    bilinear layers form dot products, so on SO3's maps the network is
    SO3-invariant for random rotations and yet not constant; it is no longer
    invariant to scalings, the guarantee that only candidates inside the
    nonlinear group keep."""
    Gs = [get(n) for n in ["SO3xScale3", "SO3", "Scale3"]]
    rep_in, rep_out = parse("3*V", Gs[0]), parse("V0", Gs[0])
    model = SoftEMLP(rep_in, rep_out, Gs, ch=128, num_layers=2, gate="plain",
                     nonlinear_group="SO3", generator=generator)  # fmt: skip
    model = model.double().project_("SO3")
    assert model.nonlinear_group.name == "SO3" and model.groups == tuple(Gs)
    x = torch.randn(64, 9, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        y = model(x)
        assert float(y.std() / y.abs().mean()) > 1e-3  # not a constant
        for R in Gs[1].sample(4, generator=generator).double():
            rotated = (x.view(64, 3, 3) @ R.T).reshape(64, 9)
            assert torch.allclose(model(rotated), y, atol=1e-9, rtol=1e-7)
        assert not torch.allclose(model(2 * x), y, atol=1e-3)
    default = SoftEMLP(rep_in, rep_out, Gs, ch=128, num_layers=2, gate="plain",
                       generator=generator)  # fmt: skip
    assert default.nonlinear_group.name == "SO3xScale3"
    assert model.num_parameters() > default.num_parameters()  # the dot products
    with pytest.raises(ValueError, match="acts on"):
        SoftEMLP(rep_in, rep_out, Gs, ch=24, nonlinear_group="O5")


def test_rpp_models(generator):
    G = get("O3")
    rep_in, rep_out = inertia_reps(G)
    rpp = build("rpp", rep_in, rep_out, CANDIDATES, ch=24, num_layers=2)
    oracle = build("rpp-oracle", rep_in, rep_out, CANDIDATES, oracle="O2z", ch=24,
                   num_layers=2)  # fmt: skip
    assert isinstance(rpp, RPPEMLP) and oracle.free_group == get("O2z")
    assert len(rpp.rpp_layers()) == 3
    x = torch.randn(4, 20)
    assert rpp(x).shape == oracle(x).shape == (4, 9)
    with pytest.raises(ValueError, match="needs cfg\\['oracle'\\]"):
        build("rpp-oracle", rep_in, rep_out, CANDIDATES)
    with pytest.raises(ValueError, match="not inside"):
        RPPEMLP(rep_in, rep_out, get("O2z"), free_group=get("O2x"), ch=24)


def test_mlp_and_factory_errors():
    G = get("O3")
    rep_in, rep_out = inertia_reps(G)
    model = MLP(rep_in, rep_out, ch=16)
    assert model(torch.randn(3, 20)).shape == (3, 9)
    with pytest.raises(ValueError, match="expects last dim 20"):
        model(torch.randn(3, 19))
    with pytest.raises(ValueError, match="unknown model"):
        build("transformer", rep_in, rep_out, CANDIDATES)
    with pytest.raises(ValueError, match="unknown group"):
        build("per", rep_in, rep_out, ["O3", "O4z"])


@pytest.mark.parametrize(
    "names, message",
    [
        (["O2z", "O3"], "not a subgroup of O2z"),
        (["O3", "Scale3"], "not a subgroup of O3"),
        (["O3", "S4"], "acts on R\\^4"),
        (["O3", "O3"], "distinct names"),
        ([], "non-empty"),
    ],
)
def test_soft_emlp_checks_its_candidate_groups(names, message):
    G = get("O3")
    rep_in, rep_out = inertia_reps(G)
    with pytest.raises(ValueError, match=message):
        SoftEMLP(rep_in, rep_out, [get(n) for n in names], ch=16)


def test_same_generator_seed_gives_same_model():
    G = [get(n) for n in CANDIDATES]
    rep_in, rep_out = inertia_reps(G[0])
    a = SoftEMLP(rep_in, rep_out, G, ch=24, generator=torch.Generator().manual_seed(1))
    b = SoftEMLP(rep_in, rep_out, G, ch=24, generator=torch.Generator().manual_seed(1))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("model", ["per", "rpp", "emlp"])
def test_blocks_agree_batch_first_and_features_first(model, generator):
    """An EMLP block gives the same values and gradients on `(*, in)` input as
    on features-first `(in, B)` input (the models' internal layout)."""
    G = get("O3")
    net = build(model, parse("2*V0+2*V", G), parse("V", G), ["O3", "O2z"], ch=24)
    block = net.double().blocks[0]
    x = torch.randn(2, 3, net.rep_in.dim, dtype=torch.float64, generator=generator)
    x.requires_grad_(True)
    y = block(x)
    h = x.reshape(6, -1).T
    want = block.forward_features_first(h).T.reshape(y.shape)
    torch.testing.assert_close(y, want)
    gy = torch.randn_like(y)
    params = [x, *block.parameters()]
    for a, b in zip(
        torch.autograd.grad(y, params, gy, allow_unused=True),
        torch.autograd.grad(want, params, gy, allow_unused=True),
        strict=True,
    ):
        assert (a is None and b is None) or torch.allclose(a, b)


def test_models_name_a_dtype_mismatch():
    G = get("O3")
    model = build("per", parse("V", G), parse("V", G), ["O3", "O2z"], ch=16)
    with pytest.raises(TypeError, match="float32 parameters on cpu but got torch.f"):
        model(torch.zeros(2, 3, dtype=torch.float64))
    assert model.double()(torch.zeros(2, 3, dtype=torch.float64)).shape == (2, 3)


def test_emlp_with_a_larger_nonlinear_group_is_exact_only_for_the_linear_group(
    generator,
):
    from softeq.groups import get
    from softeq.nn.models import build
    from softeq.reps import parse
    from softeq.testing import equivariance_gap

    O3, O2z = get("O3"), get("O2z")
    rep_in, rep_out = parse("5*V0+5*V", O3), parse("V2", O3)
    model = build("emlp", rep_in, rep_out, ["O3", "O2z"], group="O2z",
                  nonlinear_group="O3", ch=16, num_layers=2, allocation="per",
                  generator=generator).double()  # fmt: skip
    assert model.nonlinear_group == O3 and model.group == O2z
    assert_equivariant(model, rep_in.with_group(O2z), rep_out.with_group(O2z),
                       check="model", generator=generator)  # fmt: skip
    assert equivariance_gap(model, rep_in, rep_out, generator=generator) > 1e-3
    with pytest.raises(ValueError, match="not inside nonlinear_group"):
        build("emlp", rep_in, rep_out, ["O3"], group="O3", nonlinear_group="O2z",
              ch=16, num_layers=1)  # fmt: skip
