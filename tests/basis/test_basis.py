from __future__ import annotations

import logging

import pytest
import torch

from softeq.basis import (
    DENSE_MAX_DIM,
    BlockProjector,
    bias_projector_matrix,
    cache_size,
    clear_cache,
    hom_basis,
    hom_type,
    invariant_basis,
    projector_matrix,
)
from softeq.basis._solve import constraint_stack
from softeq.groups import get
from softeq.reps import Scalar, TensorType, Vector, parse
from softeq.testing import TOL, assert_equivariant, relative_error

LAYER_TOL = TOL["layer"][torch.float64]


@pytest.mark.parametrize(
    "group_name, rep_in, rep_out, rank",
    [
        ("O3", "V", "V", 1),
        ("O3", "V2", "V2", 3),
        ("O3", "5*V0+5*V", "V2", 5),
        ("SO3", "5*V0+5*V", "V2", 10),
        ("O2z", "V", "V", 2),
        ("O2z", "V2", "V2", 10),
        ("SO2z", "V2", "V2", 19),
        ("Scale3", "V2", "V0", 0),
        ("S5", "V", "V", 2),
        ("Lorentz", "V2", "V0", 1),
        ("SO3", "V2", "V", 1),
        ("Trivial3", "V", "V2", 27),
        ("SO3xScale3", "V", "V", 1),
        ("SO3xScale3", "3*V", "V0", 0),
        ("SO3", "V3", "V0", 1),
        ("O3", "V3", "V0", 0),
        ("SO3", "3*V", "V0", 0),
    ],
)
def test_known_ranks(group_name, rep_in, rep_out, rank):
    G = get(group_name)
    assert BlockProjector(parse(rep_in, G), parse(rep_out, G)).rank == rank


def test_inertia_network_ranks_match_the_reference():
    """Ranks of PER's ch=128 inertia network (PER-REFERENCE §1.3)."""
    hidden, gated = "54*V0+18*V+6*V2+2*V3", "54*V0+18*V+6*V2+2*V3+26*V0"
    expected = {"O3": (550, 5832, 72, 86), "O2z": (1390, 12912, 292, 118)}
    for name, (first, middle, last, bias) in expected.items():
        G = get(name)
        P1 = BlockProjector(parse("5*V0+5*V", G), parse(gated, G))
        P2 = BlockProjector(parse(hidden, G), parse(gated, G))
        P3 = BlockProjector(parse(hidden, G), parse("V2", G))
        assert (P1.rank, P2.rank, P3.rank, P1.bias_rank) == (first, middle, last, bias)


def mixed_pairs(group):
    """Mixed sums (with repeated and out-of-order types) and a permuted product."""
    V, S0 = Vector(group), Scalar(group)
    pairs = [(parse("2*V0+V+V0", group), parse("V+V0+V*", group))]
    if group.d <= 4:
        pairs.append(((S0 + V) * V, parse("V0+V2+V", group)))
    return pairs


def test_block_projector_equals_dense_projector(group, generator):
    for rep_in, rep_out in mixed_pairs(group):
        P = BlockProjector(rep_in, rep_out)
        dense = projector_matrix(rep_in, rep_out)
        W = torch.randn(
            rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator
        )
        expected = (dense @ W.reshape(-1)).reshape(W.shape)
        assert relative_error(P.project(W), expected) < LAYER_TOL
        assert P.rank == round(float(torch.trace(dense)))
        b = torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
        assert (
            relative_error(P.project_bias(b), bias_projector_matrix(rep_out) @ b)
            < LAYER_TOL
        )


def test_projected_maps_are_equivariant(group, generator):
    for rep_in, rep_out in mixed_pairs(group):
        P = BlockProjector(rep_in, rep_out)
        W = P.project(
            torch.randn(
                rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator
            )
        )
        b = P.project_bias(
            torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
        )
        assert_equivariant(
            lambda x, W=W, b=b: x @ W.T + b,
            rep_in,
            rep_out,
            scale=group.sample_scale,
            generator=generator,
        )


def test_projector_is_idempotent_and_symmetric(group, generator):
    rep_in, rep_out = mixed_pairs(group)[0]
    P = BlockProjector(rep_in, rep_out)
    W1, W2 = torch.randn(
        2, rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator
    )
    PW1 = P.project(W1)
    assert relative_error(P.project(PW1), PW1) < LAYER_TOL
    lhs, rhs = (PW1 * W2).sum(), (W1 * P.project(W2)).sum()
    assert abs(lhs - rhs) < LAYER_TOL * (W1.norm() * W2.norm())


def test_type_bases_satisfy_constraints_and_are_orthonormal(group):
    for t_in, t_out in [((), ("V",)), (("V",), ("V",)), (("V",), ("V", "V"))]:
        ttype = hom_type(TensorType(t_in), TensorType(t_out))
        Q = invariant_basis(group, ttype)
        C = constraint_stack(group, ttype.rho, ttype.drho, ttype.dim(group.d))
        if C.numel() and Q.numel():
            assert (C @ Q).abs().max() < 1e-10
        if Q.shape[1]:
            torch.testing.assert_close(
                Q.T @ Q, torch.eye(Q.shape[1], dtype=torch.float64)
            )


def test_residual_equals_distance_to_the_equivariant_subspace(generator):
    G = get("O2y")
    rep_in, rep_out = parse("2*V0+V", G), parse("V2+V0", G)
    P = BlockProjector(rep_in, rep_out)
    W = torch.randn(rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator)
    b = torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
    w = W.reshape(-1)
    eye = torch.eye(w.numel(), dtype=torch.float64)
    expected_w = 0.5 * ((eye - projector_matrix(rep_in, rep_out)) @ w).square().sum()
    expected_b = 0.5 * (b - bias_projector_matrix(rep_out) @ b).square().sum()
    torch.testing.assert_close(P.residual(W), expected_w)
    torch.testing.assert_close(P.residual(W, b), expected_w + expected_b)
    assert P.residual(P.project(W), P.project_bias(b)) < 1e-20


def test_residual_is_differentiable_and_decreases_along_its_gradient(generator):
    G = get("O3")
    P = BlockProjector(parse("V0+V", G), parse("V2", G))
    W = torch.randn(9, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    value = P.residual(W)
    value.backward()
    with torch.no_grad():
        assert P.residual(W - 0.1 * W.grad) < value
        # the gradient of ½‖W − PW‖² is (I − P)W
        torch.testing.assert_close(W.grad, W - P.project(W))


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_each_embedded_o2_is_equivariant_for_its_own_axis_only(axis, generator):
    own = get(f"O2{axis}")
    P = BlockProjector(parse("V+V2", own), parse("V2", own))
    W = P.project(torch.randn(9, 12, dtype=torch.float64, generator=generator))
    for other_axis in "xyz":
        other = get(f"O2{other_axis}")
        rep_in, rep_out = parse("V+V2", other), parse("V2", other)
        if other_axis == axis:
            assert_equivariant(lambda x: x @ W.T, rep_in, rep_out, generator=generator)
        else:
            with pytest.raises(AssertionError, match="not equivariant"):
                assert_equivariant(
                    lambda x: x @ W.T, rep_in, rep_out, generator=generator
                )


def test_checker_fails_on_broken_maps(generator):
    G = get("SO3")
    rep = parse("V0+V", G)
    W = torch.randn(4, 4, dtype=torch.float64, generator=generator)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda x: x @ W.T, rep, rep, generator=generator)
    P = BlockProjector(rep, rep)
    W_eq = P.project(W)
    assert_equivariant(lambda x: x @ W_eq.T, rep, rep, generator=generator)
    # permuting the outputs of an equivariant map breaks it
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            lambda x: (x @ W_eq.T).flip(-1), rep, rep, generator=generator
        )


def test_projector_works_in_float32_with_leading_batch_dims(generator):
    G = get("O3")
    rep_in, rep_out = parse("V0+V", G), parse("V+V2", G)
    P64 = BlockProjector(rep_in, rep_out)
    P32 = BlockProjector(rep_in, rep_out).to(torch.float32)
    W = torch.randn(
        3, rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator
    )
    out32 = P32.project(W.float())
    assert out32.dtype == torch.float32
    assert relative_error(out32.double(), P64.project(W)) < TOL["layer"][torch.float32]
    for i in range(3):
        torch.testing.assert_close(P64.project(W)[i], P64.project(W[i]))


def test_bases_are_buffers_outside_the_state_dict():
    G = get("O3")
    P = BlockProjector(parse("V0+V", G), parse("V", G))
    assert len(list(P.buffers())) > 0
    assert P.state_dict() == {}


@pytest.mark.parametrize("shape", [(4, 4), (3,), (4, 3, 5)])
def test_wrong_weight_shape_names_the_expected_shape(shape):
    G = get("O3")
    P = BlockProjector(parse("V0", G), parse("V", G))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 1\)"):
        P.project(torch.zeros(shape))


def test_wrong_bias_shape_and_mismatched_groups_raise():
    G = get("O3")
    P = BlockProjector(parse("V0", G), parse("V", G))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        P.project_bias(torch.zeros(4))
    with pytest.raises(ValueError, match="share one group"):
        BlockProjector(parse("V", G), parse("V", get("O2z")))


def test_dense_projector_refuses_huge_systems():
    G = get("O3")
    big = parse("3*V3", G)
    assert big.dim**2 > DENSE_MAX_DIM
    with pytest.raises(ValueError, match="BlockProjector"):
        projector_matrix(big, big)


def test_memory_cache_distinguishes_embedded_groups():
    clear_cache(disk=False)
    Qz = hom_basis(get("O2z"), TensorType.of(1), TensorType.of(1))
    Qx = invariant_basis(get("O2x"), TensorType.of(1, 1))
    assert cache_size() == 2
    assert not torch.allclose(Qz @ Qz.T, Qx @ Qx.T)
    clear_cache(disk=False)
    assert cache_size() == 0


def test_disk_cache_round_trips_and_survives_corruption(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SOFTEQ_CACHE_DIR", str(tmp_path))
    clear_cache()
    G, ttype = get("O2y"), TensorType.of(2, 1)
    Q = invariant_basis(G, ttype)
    files = list(tmp_path.glob("basis-*.pt"))
    assert len(files) == 1 and "O2y" in files[0].name
    clear_cache(disk=False)
    torch.testing.assert_close(invariant_basis(G, ttype), Q)
    clear_cache(disk=False)
    files[0].write_bytes(b"not a tensor")
    with caplog.at_level(logging.WARNING, logger="softeq.basis._cache"):
        torch.testing.assert_close(invariant_basis(G, ttype), Q)
    assert "unreadable" in caplog.text
    clear_cache()
    assert not list(tmp_path.glob("basis-*.pt"))


@pytest.mark.parametrize("r", [1, 3, 7])
def test_canonical_basis_depends_only_on_the_span(r, generator):
    """Any orthonormal basis of a subspace (an SVD's choice, which varies with
    LAPACK and thread count) canonicalises to the same one."""
    from softeq.basis import canonical_basis

    Q = torch.linalg.qr(torch.randn(20, r, dtype=torch.float64, generator=generator))[0]
    rotation = torch.linalg.qr(
        torch.randn(r, r, dtype=torch.float64, generator=generator)
    )[0]
    a, b = canonical_basis(Q), canonical_basis(Q @ rotation)
    assert torch.allclose(a, b, atol=1e-12)
    assert torch.allclose(a.T @ a, torch.eye(r, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(a @ a.T, Q @ Q.T, atol=1e-12)  # same span


def test_solved_bases_are_canonical():
    """The solver's basis equals its canonical form: parameters stored as
    coordinates in it mean the same map in every process."""
    from softeq.basis import canonical_basis, solve_invariants
    from softeq.groups import get
    from softeq.reps import TensorType

    Q = solve_invariants(get("Lorentz"), TensorType.of(2, 2))
    assert Q.shape[1] > 1
    assert torch.allclose(Q, canonical_basis(Q.flip(1)), atol=1e-12)
