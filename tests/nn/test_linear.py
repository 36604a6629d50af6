from __future__ import annotations

import pytest
import torch

from softeq.basis import bias_projector_matrix, projector_matrix
from softeq.groups import get
from softeq.nn import EquivariantLinear, RPPLinear, SoftLinear
from softeq.reps import parse
from softeq.testing import assert_equivariant

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def groups(names=CANDIDATES):
    return [get(n) for n in names]


def soft_layer(generator, rep_in="2*V0+V", rep_out="V+V2", names=CANDIDATES):
    Gs = groups(names)
    return SoftLinear(
        parse(rep_in, Gs[0]), parse(rep_out, Gs[0]), Gs, generator=generator
    ).double()


@pytest.mark.parametrize("name", CANDIDATES)
def test_projected_soft_linear_has_zero_penalty_and_is_equivariant(name, generator):
    layer = soft_layer(generator).project_(name)
    # the fused value is a difference of squared norms: exact to eps * ||w||^2
    scale = float(
        layer.weight.detach().square().sum() + layer.bias.detach().square().sum()
    )
    assert float(layer.penalty(name, exact=True)) < 1e-14 * scale
    G = get(name)
    rep_in, rep_out = layer.rep_in.with_group(G), layer.rep_out.with_group(G)
    assert_equivariant(layer, rep_in, rep_out, generator=generator)


def test_unprojected_soft_linear_is_not_equivariant(generator):
    layer = soft_layer(generator)
    G = get("O2z")
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            layer, layer.rep_in.with_group(G), layer.rep_out.with_group(G),
            generator=generator,
        )  # fmt: skip


@pytest.mark.parametrize("exact", [True, False])
def test_penalty_equals_dense_projector_distance(exact, generator):
    layer = soft_layer(generator)
    w, b = layer.weight.detach().reshape(-1), layer.bias.detach()
    for G in groups():
        rep_in, rep_out = layer.rep_in.with_group(G), layer.rep_out.with_group(G)
        P, Pb = projector_matrix(rep_in, rep_out), bias_projector_matrix(rep_out)
        expected = 0.5 * (w - P @ w).square().sum() + 0.5 * (b - Pb @ b).square().sum()
        got = layer.penalty(G, exact=exact).detach()
        # a difference of squared norms: exact up to eps * (||w||^2 + ||b||^2)
        assert abs(got - expected) < 1e-13 * (w.square().sum() + b.square().sum())


def test_penalty_gradient_step_shrinks_every_residual(generator):
    layer = soft_layer(generator)
    before = layer.penalties(exact=True)
    total = sum(layer.penalties().values())
    total.backward()
    with torch.no_grad():
        for p in layer.parameters():
            p -= 0.05 * p.grad
    after = layer.penalties(exact=True)
    assert all(after[k] < before[k] for k in before)


def test_fused_float32_penalty_matches_exact_up_to_cancellation(generator):
    Gs = groups()
    layer = SoftLinear(parse("5*V0+5*V", Gs[0]), parse("V2", Gs[0]), Gs)
    fast, exact = layer.penalties(), layer.penalties(exact=True)
    scale = float(
        layer.weight.detach().square().sum() + layer.bias.detach().square().sum()
    )
    for k in exact:
        assert abs(float(fast[k].detach()) - float(exact[k])) < 1e-5 * scale
        assert fast[k].requires_grad and not exact[k].requires_grad


def test_soft_linear_export_and_errors(generator):
    layer = soft_layer(generator)
    x = torch.randn(4, layer.rep_in.dim, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(layer.export()(x), layer(x))
    with pytest.raises(ValueError, match="expects last dim 5"):
        layer(torch.zeros(4, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="not a candidate group"):
        layer.penalty("SO3")
    with pytest.raises(ValueError, match="distinct names"):
        SoftLinear(layer.rep_in, layer.rep_out, [get("O3"), get("O3")])


def test_soft_linear_float32_smoke(generator):
    Gs = groups()
    layer = SoftLinear(parse("V", Gs[0]), parse("V", Gs[0]), Gs, generator=generator)
    layer.project_("O2x")
    G = get("O2x")
    assert_equivariant(layer, parse("V", G), parse("V", G), dtype=torch.float32,
                       generator=generator)  # fmt: skip


def test_equivariant_linear_is_exactly_equivariant(group, generator):
    rep_in, rep_out = parse("V0+V", group), parse("V+V0+V*", group)
    layer = EquivariantLinear(rep_in, rep_out, generator=generator).double()
    assert layer.theta.numel() == layer.projector.rank
    assert_equivariant(layer, rep_in, rep_out, scale=group.sample_scale,
                       generator=generator)  # fmt: skip
    x = torch.randn(3, rep_in.dim, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(layer.export()(x), layer(x))


def test_coefficients_round_trip_on_equivariant_weights(generator):
    G = get("SO3")
    layer = EquivariantLinear(parse("V0+V+V2", G), parse("V+V2", G)).double()
    P = layer.projector
    W = layer.weight().detach()
    torch.testing.assert_close(P.assemble(P.coefficients(W)), W)
    b = layer.bias().detach()
    torch.testing.assert_close(P.assemble_bias(P.bias_coefficients(b)), b)
    with pytest.raises(ValueError, match=f"\\(\\.\\.\\., {P.rank}\\)"):
        P.assemble(torch.zeros(P.rank + 1, dtype=torch.float64))


def test_rpp_linear_paths(generator):
    O3, O2z = get("O3"), get("O2z")
    rep_in, rep_out = parse("V0+V", O3), parse("V2", O3)
    layer = RPPLinear(rep_in, rep_out, O3, generator=generator).double()
    assert layer.free.weight.norm() < 1e-2 * layer.equivariant.weight().norm()
    with pytest.raises(AssertionError):
        assert_equivariant(layer, rep_in, rep_out, generator=generator)
    with torch.no_grad():
        for p in layer.free_parameters():
            p.zero_()
    assert_equivariant(layer, rep_in, rep_out, generator=generator)
    oracle = RPPLinear(
        rep_in, rep_out, O3, free_group=O2z, generator=generator
    ).double()
    assert_equivariant(
        oracle, parse("V0+V", O2z), parse("V2", O2z), generator=generator
    )
    assert {id(p) for p in oracle.free_parameters()}.isdisjoint(
        {id(p) for p in oracle.equivariant_parameters()}
    )


def test_affine_is_the_layer_and_applies_features_first(generator):
    """`affine()` of every linear type reproduces its forward, and
    `affine_features_first` is the same map on `(in, B)` input."""
    from softeq.nn._linear import affine_features_first

    G = groups()
    rep_in, rep_out = parse("2*V0+V", G[0]), parse("V+V2", G[0])
    layers = [
        soft_layer(generator),
        EquivariantLinear(rep_in, rep_out, generator=generator).double(),
        RPPLinear(rep_in, rep_out, G[0], generator=generator).double(),
        RPPLinear(rep_in, rep_out, G[0], free_group=G[3], generator=generator).double(),
    ]
    x = torch.randn(7, rep_in.dim, dtype=torch.float64, generator=generator)
    for layer in layers:
        W, b = layer.affine()
        torch.testing.assert_close(x @ W.T + b, layer(x))
        torch.testing.assert_close(affine_features_first(layer, x.T).T, layer(x))
        with pytest.raises(ValueError, match="features-first input"):
            affine_features_first(layer, x)


def test_float32_penalty_keeps_its_gradient_when_its_value_rounds_to_zero(generator):
    """Near exact equivariance the float32 value of R = ½(‖w‖² − ‖Qᵀw‖²) rounds
    below 0 and is shown as 0, but its gradient (I − P)w is still exact and must
    reach the weights: a strong penalty has to finish the job."""
    from softeq.groups import get
    from softeq.nn import SoftLinear
    from softeq.reps import parse

    O3, O2z = get("O3"), get("O2z")
    rep = parse("18*V0+6*V+2*V2", O3)
    layer = SoftLinear(rep, rep, [O3, O2z], generator=generator).project_("O2z")
    with torch.no_grad():
        layer.weight.add_(1e-6 * torch.randn(layer.weight.shape, generator=generator))
    penalty = layer.penalty("O2z")
    assert penalty.item() >= 0.0
    penalty.backward()
    W = layer.weight.detach().double()
    projector = layer.projectors.projectors["O2z"]
    expected = W - projector.project(W)
    got = layer.weight.grad.double()
    assert got.norm() > 0
    assert (got - expected).norm() <= 1e-2 * expected.norm()


def test_nonnegative_clamps_values_but_not_gradients():
    from softeq.basis._multi import nonnegative

    r = torch.tensor([-1e-9, 2.0], requires_grad=True)
    out = nonnegative(r)
    assert out.tolist() == [0.0, 2.0]
    (3.0 * out).sum().backward()
    assert r.grad.tolist() == [3.0, 3.0]  # clamp_min would give [0.0, 3.0]
