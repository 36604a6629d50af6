from __future__ import annotations

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
from softeq.reps import Scalar, Vector, parse
from softeq.testing import assert_equivariant
from tests.conftest import sample_scale


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
    assert_equivariant(act, scalar_gates, rep, scale=sample_scale(group),
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
    assert_equivariant(layer, rep, rep, scale=sample_scale(G), check="model",
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
