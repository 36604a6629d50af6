from __future__ import annotations

import copy

import pytest
import torch

from softeq.groups import get
from softeq.nn import (
    EquivariantBilinear,
    GatedNonlinearity,
    RPPGatedNonlinearity,
    gate_index,
    gated,
)
from softeq.nn._gated import _GateFunction
from softeq.reps import Rep, Scalar, Vector, parse
from softeq.testing import TOL, assert_equivariant, relative_error


def test_gated_appends_one_scalar_per_non_scalar_copy():
    G = get("O3")
    rep = parse("54*V0+18*V+6*V2+2*V3", G)
    assert gated(rep).dim == 242
    assert gated(parse("3*V0", G)).dim == 3
    idx = gate_index(parse("V0+V+V2", G))
    assert idx.tolist() == [0] + [13] * 3 + [14] * 9


def test_gated_nonlinearity_is_swish_on_scalars_and_gates_copies():
    G = get("O3")
    rep = parse("V0+V", G)
    act = GatedNonlinearity(rep)
    x = torch.tensor([[2.0, 1.0, -1.0, 3.0, 0.5]])
    expected = torch.tensor([[2.0 * torch.sigmoid(torch.tensor(2.0))]
                             + (torch.tensor([1.0, -1.0, 3.0]) * torch.sigmoid(
                                 torch.tensor(0.5))).tolist()])  # fmt: skip
    torch.testing.assert_close(act(x), expected)
    with pytest.raises(ValueError, match="expects last dim 5"):
        act(torch.zeros(1, 4))


def test_gated_nonlinearity_is_equivariant_for_every_group(group, generator):
    rep = parse("2*V0+V+V2", group) if group.d <= 4 else parse("V0+V", group)
    scalar_gates = gated(rep)
    act = GatedNonlinearity(rep)
    assert_equivariant(act, scalar_gates, rep, scale=group.sample_scale,
                       check="model", generator=generator)  # fmt: skip


def test_rpp_gate_breaks_equivariance_through_its_elementwise_path(generator):
    G = get("O3")
    rep = parse("V0+V", G)
    act = RPPGatedNonlinearity(rep, init=0.5).double()
    with pytest.raises(AssertionError):
        assert_equivariant(act, gated(rep), rep, check="model", generator=generator)
    with torch.no_grad():
        act.w_gated.zero_()
    assert_equivariant(act, gated(rep), rep, check="model", generator=generator)


@pytest.mark.parametrize("name", ["O3", "SO3", "O2z", "SO3xScale3", "S4", "Lorentz"])
def test_bilinear_is_equivariant(name, generator):
    G = get(name)
    hidden = parse("4*V0+3*V+2*V2", G) if G.d <= 3 else parse("3*V0+2*V+V2", G)
    rep = gated(hidden)
    layer = EquivariantBilinear(rep, generator=generator).double()
    assert sum(p.numel() for p in layer.parameters()) > 0
    assert_equivariant(layer, rep, rep, scale=G.sample_scale, check="model",
                       generator=generator)  # fmt: skip


def test_bilinear_on_permuted_product_reps(generator):
    G = get("SO3")
    rep = (Scalar(G) + Vector(G)) * (Scalar(G) + Vector(G)) + parse("2*V0", G)
    assert rep.index is not None
    layer = EquivariantBilinear(rep, generator=generator).double()
    assert_equivariant(layer, rep, rep, check="model", generator=generator)


def test_bilinear_parameter_count_matches_the_reference():
    """PER-REFERENCE §1.2: 17,416 bilinear parameters per ch=128 block."""
    rep = gated(parse("54*V0+18*V+6*V2+2*V3", get("O3")))
    layer = EquivariantBilinear(rep)
    assert sum(p.numel() for p in layer.parameters()) == 17416


def test_bilinear_is_a_quadratic_form(generator):
    G = get("O3")
    rep = gated(parse("3*V0+2*V+V2", G))
    layer = EquivariantBilinear(rep, generator=generator).double()
    x = torch.randn(5, rep.dim, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(layer(3 * x), 9 * layer(x))
    torch.testing.assert_close(layer(x[0]), layer(x[:1])[0])
    with pytest.raises(ValueError, match="expects last dim"):
        layer(torch.zeros(2, rep.dim + 1))


def _plain_bilinear(layer: EquivariantBilinear, x: torch.Tensor) -> torch.Tensor:
    """Reference: $y_a = 0.1\\sum_{b,m}\\theta_{abm}X_m x_b$ per type pair, one
    einsum each on the canonical layout, differentiated by autograd."""
    rep, idx = layer.rep, layer.rep.canonical_index()
    sizes = [(m, t.dim(rep.group.d)) for t, m in rep.canonical_types()]
    parts = x[:, idx].split([m * d for m, d in sizes], dim=1)
    copies = [p.reshape(len(x), m, d) for p, (m, d) in zip(parts, sizes, strict=True)]
    outs = [torch.zeros_like(c) for c in copies]
    for p in (
        p for group in layer._plan.x_first + layer._plan.theta_first for p in group
    ):
        theta = layer.weights[p.p].reshape(p.mo, p.mi, p.n)
        X = copies[p.k][:, : p.n].reshape(len(x), p.n, p.do, p.di)
        outs[p.o] = outs[p.o] + torch.einsum("abm,Bmkl,Bbl->Bak", theta, X, copies[p.i])
    y = torch.empty_like(x)
    y[:, idx] = torch.cat([o.reshape(len(x), -1) for o in outs], dim=1)
    return 0.1 * y


def _bilinear_cases() -> list[tuple[str, Rep]]:
    O3, SO3 = get("O3"), get("SO3")
    return [
        ("O3", gated(parse("3*V0+2*V+2*V2+V3", O3))),  # both contraction orders
        ("SO3xScale3", gated(parse("2*V0+V+V2", get("SO3xScale3")))),
        ("Lorentz", gated(parse("3*V0+2*V+V2", get("Lorentz")))),
        ("permuted", (Scalar(SO3) + Vector(SO3)) * (Scalar(SO3) + Vector(SO3))),
    ]


@pytest.mark.parametrize("case", _bilinear_cases(), ids=lambda c: c[0])
def test_bilinear_matches_the_plain_formulation(case, generator):
    """Output and hand-written gradients equal autograd of the plain einsums."""
    layer = EquivariantBilinear(case[1], generator=generator).double()
    x = torch.randn(4, case[1].dim, dtype=torch.float64, generator=generator)
    x.requires_grad_(True)
    gy = torch.randn(4, case[1].dim, dtype=torch.float64, generator=generator)
    params = [x, *layer.parameters()]
    got = torch.autograd.grad(layer(x), params, gy)
    want = torch.autograd.grad(_plain_bilinear(layer, x), params, gy)
    assert (
        relative_error(layer(x), _plain_bilinear(layer, x))
        <= TOL["layer"][torch.float64]
    )
    for g, w in zip(got, want, strict=True):
        assert relative_error(g, w) <= TOL["layer"][torch.float64]


@pytest.mark.parametrize("case", _bilinear_cases()[::3], ids=lambda c: c[0])
def test_bilinear_backward_passes_gradcheck(case, generator):
    layer = EquivariantBilinear(case[1], generator=generator).double()
    names = [name for name, _ in layer.named_parameters()]

    def f(x: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, weights, strict=True))
        return torch.func.functional_call(layer, params, (x,))

    x = torch.randn(3, case[1].dim, dtype=torch.float64, generator=generator)
    weights = [p.detach().requires_grad_(True) for p in layer.parameters()]
    assert torch.autograd.gradcheck(f, (x.requires_grad_(True), *weights))


def test_bilinear_float32_and_batch_shapes(generator):
    rep = gated(parse("3*V0+2*V+V2", get("O3")))
    layer = EquivariantBilinear(rep, generator=generator)
    x = torch.randn(2, 3, rep.dim, generator=generator)
    y = layer(x)
    assert y.shape == x.shape and y.dtype == torch.float32 and y.is_contiguous()
    y.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())
    want = _plain_bilinear(copy.deepcopy(layer).double(), x.double().reshape(6, -1))
    assert (
        relative_error(y.double().reshape(6, -1), want) <= TOL["layer"][torch.float32]
    )
    assert layer(torch.zeros(0, rep.dim)).shape == (0, rep.dim)


@pytest.mark.parametrize("case", _bilinear_cases(), ids=lambda c: c[0])
def test_bilinear_features_first_with_residual_matches_the_plain_formulation(
    case, generator
):
    """`forward_features_first(h, residual=True)` is $h + 0.1W(h)h$ on `(dim, B)`,
    gradients included, for run and non-run (permuted) layouts."""
    layer = EquivariantBilinear(case[1], generator=generator).double()
    h = torch.randn(case[1].dim, 5, dtype=torch.float64, generator=generator)
    h.requires_grad_(True)
    gy = torch.randn(case[1].dim, 5, dtype=torch.float64, generator=generator)
    params = [h, *layer.parameters()]
    got_y = layer.forward_features_first(h, residual=True)
    want_y = h + _plain_bilinear(layer, h.T).T
    assert relative_error(got_y, want_y) <= TOL["layer"][torch.float64]
    got = torch.autograd.grad(got_y, params, gy)
    want = torch.autograd.grad(want_y, params, gy)
    for g, w in zip(got, want, strict=True):
        assert relative_error(g, w) <= TOL["layer"][torch.float64]
    with pytest.raises(ValueError, match="features-first input"):
        layer.forward_features_first(h.T)


@pytest.mark.parametrize("cls", [GatedNonlinearity, RPPGatedNonlinearity])
def test_fused_gate_matches_autograd_of_the_formula(cls, generator):
    """The hand-written gate backward equals autograd of
    $v\\,\\sigma(x_{gate}) + w\\,\\mathrm{swish}(v)$, and passes gradcheck."""
    rep = parse("2*V0+V+V2", get("O3"))
    act = cls(rep).double()
    if cls is RPPGatedNonlinearity:
        with torch.no_grad():
            act.w_gated.uniform_(-1.0, 1.0, generator=generator)
    w = act.w_gated if cls is RPPGatedNonlinearity else None
    x = torch.randn(4, gated(rep).dim, dtype=torch.float64, generator=generator)
    x.requires_grad_(True)
    v = x[:, : rep.dim]
    want_y = v * torch.sigmoid(x[:, gate_index(rep)])
    if w is not None:
        want_y = want_y + w * torch.nn.functional.silu(v)
    params = [x] + ([w] if w is not None else [])
    gy = torch.randn_like(want_y)
    got_y = act(x)
    torch.testing.assert_close(got_y, want_y)
    for g, want in zip(
        torch.autograd.grad(got_y, params, gy),
        torch.autograd.grad(want_y, params, gy),
        strict=True,
    ):
        torch.testing.assert_close(g, want)
    h = x.detach().T.clone().requires_grad_(True)
    index = act._gate_index
    if w is None:
        fused = lambda h: _GateFunction.apply(h, index, None)  # noqa: E731
        assert torch.autograd.gradcheck(fused, h)
    else:
        assert torch.autograd.gradcheck(
            lambda h, w: _GateFunction.apply(h, index, w), (h, w)
        )
    with pytest.raises(ValueError, match="features-first input"):
        act.forward_features_first(x)
