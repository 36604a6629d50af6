from __future__ import annotations

import pytest
import torch

from softeq.groups import O, S, get
from softeq.reps import Rep, Scalar, T, TensorType, Vector, batched_kron, parse
from softeq.testing import TOL, relative_error

LAYER_TOL = TOL["layer"][torch.float64]


def example_reps(group) -> list[Rep]:
    """Sums with multiplicities, duals, a mixed tensor and permuted tensor products."""
    V, S0 = Vector(group), Scalar(group)
    reps = [parse("2*V0+V+V2", group), parse("V*+T(1,1)", group), V.dual() * V]
    if group.d <= 4:
        reps += [(S0 + V) * (S0 + V), (2 * V) * V.dual()]
    return reps


def test_rho_is_a_homomorphism(group, generator):
    scale = group.sample_scale
    g, h = group.sample(2, scale=scale, generator=generator)
    for rep in example_reps(group):
        lhs, rhs = rep.rho(g @ h), rep.rho(g) @ rep.rho(h)
        assert relative_error(lhs, rhs) < LAYER_TOL, str(rep)


def test_rho_of_identity_is_identity(group):
    eye = torch.eye(group.d, dtype=torch.float64)
    for rep in example_reps(group):
        assert torch.equal(rep.rho(eye), torch.eye(rep.dim, dtype=torch.float64))


def test_drho_exponentiates_to_rho(group, generator):
    """rho(expm(A)) = expm(drho(A)) for Lie-algebra elements A."""
    if group.lie_algebra.shape[0] == 0:
        pytest.skip(f"{group.name} has no Lie algebra")
    z = torch.randn(
        group.lie_algebra.shape[0], dtype=torch.float64, generator=generator
    )
    A = torch.einsum("k,kij->ij", z * group.sample_scale, group.lie_algebra)
    for rep in example_reps(group):
        lhs = rep.rho(torch.linalg.matrix_exp(A))
        rhs = torch.linalg.matrix_exp(rep.drho(A))
        assert relative_error(lhs, rhs) < LAYER_TOL, str(rep)


def test_tensor_product_is_row_major_kron(group, generator):
    g = group.sample(1, scale=group.sample_scale, generator=generator)[0]
    a = parse("V0+V", group)
    b = parse("2*V+V0", group)
    ab = a * b
    assert ab.dim == a.dim * b.dim
    assert relative_error(ab.rho(g), batched_kron(a.rho(g), b.rho(g))) < LAYER_TOL


def test_dual_is_inverse_transpose(group, generator):
    g = group.sample(1, scale=group.sample_scale, generator=generator)[0]
    rep = parse("V0+V+V2", group)
    expected = torch.linalg.inv(rep.rho(g)).T
    assert relative_error(rep.dual().rho(g), expected) < LAYER_TOL


def test_batched_rho_matches_loop(generator):
    G = O(3)
    gs = G.sample(4, generator=generator)
    rep = parse("V0+V+V3", G)
    batched = rep.rho(gs)
    for i in range(4):
        torch.testing.assert_close(batched[i], rep.rho(gs[i]))


def test_dimensions_add_and_multiply():
    G = get("O3")
    a, b = parse("2*V0+V", G), parse("V2+V*", G)
    assert (a + b).dim == a.dim + b.dim == 17
    assert (a * b).dim == a.dim * b.dim == 60
    assert (3 * a).dim == 3 * a.dim and (a * 3) == 3 * a
    assert (Vector(G) ** 3).dim == 27
    assert T(2, 1, G).dim == 27


@pytest.mark.parametrize(
    "text, blocks",
    [
        ("5*V0+5*V", [(5, ()), (5, ("V",))]),
        ("V2", [(1, ("V", "V"))]),
        (" 3 * V* + T(1, 2) ", [(3, ("V*",)), (1, ("V", "V*", "V*"))]),
        ("V3+V0", [(1, ("V", "V", "V")), (1, ())]),
        ("2*V+3*V", [(5, ("V",))]),
    ],
)
def test_parse_keeps_the_written_layout(text, blocks):
    rep = parse(text, get("O3"))
    assert [(m, t.factors) for m, t in rep.blocks] == blocks
    assert rep.index is None


@pytest.mark.parametrize(
    "bad", ["", "   ", "5V", "V4", "0*V", "2*", "V+", "T(1)", "W", "V**"]
)
def test_parse_rejects_malformed_strings(bad):
    with pytest.raises(ValueError, match="expected|multiplicity"):
        parse(bad, get("O3"))


def test_canonical_types_group_copies_by_type():
    rep = parse("54*V0+18*V+6*V2+2*V3+26*V0", get("O3"))
    types = rep.canonical_types()
    assert [(str(t), m) for t, m in types] == [
        ("V0", 80),
        ("V", 18),
        ("V2", 6),
        ("V3", 2),
    ]
    idx = rep.canonical_index()
    assert torch.equal(idx[:54], torch.arange(54))
    assert torch.equal(idx[54:80], torch.arange(216, 242))


def test_reps_compare_by_group_and_layout():
    G = get("O2z")
    assert parse("V+V0", G) == parse("V+V0", G)
    assert parse("V+V0", G) != parse("V0+V", G)
    assert parse("V", G) != parse("V", get("O2x"))
    assert len({parse("V", G), parse("V", G)}) == 1


def test_with_group_moves_the_layout_and_checks_dimension():
    rep = parse("5*V0+5*V", get("O3"))
    moved = rep.with_group(get("O2x"))
    assert moved.group.name == "O2x" and moved.blocks == rep.blocks
    with pytest.raises(ValueError, match="dimension d must match"):
        rep.with_group(S(5))


def test_mixing_groups_and_bad_operands_raise():
    with pytest.raises(ValueError, match="different groups"):
        _ = Vector(get("O3")) + Vector(get("SO3"))
    with pytest.raises(ValueError, match="multiplicity"):
        _ = 0 * Vector(get("O3"))
    with pytest.raises(ValueError, match="Rep"):
        _ = Vector(get("O3")) + 1  # type: ignore[operator]


def test_rho_and_act_check_shapes():
    rep = parse("V0+V", get("O3"))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        rep.rho(torch.eye(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="expects last dim 4"):
        rep.act(torch.eye(3, dtype=torch.float64), torch.zeros(2, 5))


@pytest.mark.parametrize("group", ["O3", "O2z", "SO3xScale3", "Lorentz", "O5", "S4"])
def test_act_equals_the_dense_rho(group):
    """`act` applies rho(g) block by block; it must equal the dense matrix on
    every layout (interleaved products with their own flat index included),
    for one element, one per row, and elements broadcast over extra dims."""
    G = get(group)
    V = Vector(G)
    reps = [parse("5*V0+5*V", G), parse("V0+V+V2+V3+T(1,1)", G), V * (V + Scalar(G)),
            (V + V.dual()) * V + 2 * Scalar(G)]  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    gs = G.sample(6, scale=0.5, generator=gen)
    tol = TOL["layer"][torch.float64]
    for rep in reps:
        x = torch.randn(6, rep.dim, dtype=torch.float64, generator=gen)
        dense = (rep.rho(gs) @ x.unsqueeze(-1)).squeeze(-1)
        assert relative_error(rep.act(gs, x), dense) < tol, rep
        one = (rep.rho(gs[0]) @ x.unsqueeze(-1)).squeeze(-1)
        assert relative_error(rep.act(gs[0], x), one) < tol, rep
        wide = torch.randn(2, 6, rep.dim, dtype=torch.float64, generator=gen)
        dense = (rep.rho(gs) @ wide.unsqueeze(-1)).squeeze(-1)
        assert rep.act(gs, wide).shape == (2, 6, rep.dim)
        assert relative_error(rep.act(gs, wide), dense) < tol, rep
        assert rep.act(gs, x.float()).dtype == torch.float32


def test_tensor_type_names():
    assert [
        str(TensorType.of(p, q)) for p, q in [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1)]
    ] == ["V0", "V", "V*", "V2", "T(1,1)"]
    assert str(TensorType(("V*", "V"))) == "V*⊗V"
    with pytest.raises(ValueError, match="'V' or 'V\\*'"):
        TensorType(("W",))
