from __future__ import annotations

import pytest
import torch

from softeq.groups import (
    NONCOMPACT_SAMPLE_SCALE,
    O2,
    SO,
    DirectProduct,
    Group,
    Lorentz,
    O,
    S,
    Scaling,
    Union,
    get,
    names,
)

EYE3 = torch.eye(3, dtype=torch.float64)


def test_samples_have_shape_dtype_and_are_invertible(group, generator):
    gs = group.sample(5, scale=group.sample_scale, generator=generator)
    assert gs.shape == (5, group.d, group.d)
    assert gs.dtype == torch.float64
    assert (torch.linalg.det(gs).abs() > 1e-6).all()


def test_sampling_is_reproducible_with_a_generator(group):
    a = group.sample(4, generator=torch.Generator().manual_seed(3))
    b = group.sample(4, generator=torch.Generator().manual_seed(3))
    c = group.sample(4, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    if group.name != "Trivial3":
        assert not torch.equal(a, c)


def test_samples_of_orthogonal_groups_are_orthogonal(group, generator):
    if not group.is_orthogonal():
        pytest.skip(f"{group.name} is not a subgroup of O(d)")
    gs = group.sample(6, generator=generator)
    eye = torch.eye(group.d, dtype=torch.float64)
    torch.testing.assert_close(gs @ gs.transpose(-1, -2), eye.expand_as(gs))


@pytest.mark.parametrize("name", ["O3", "SO3", "O2z", "S4", "C4", "D6", "Trivial3"])
def test_compact_flags(name):
    assert get(name).is_compact
    assert get(name).sample_scale == 1.0


@pytest.mark.parametrize("name", ["Scale3", "SO3xScale3", "Lorentz", "SL3", "GL3"])
def test_noncompact_flags(name):
    assert not get(name).is_compact
    assert get(name).sample_scale == NONCOMPACT_SAMPLE_SCALE < 1.0


def test_so_has_unit_determinant_and_o_has_both_signs(generator):
    assert torch.allclose(
        torch.linalg.det(SO(3).sample(20, generator=generator)),
        torch.ones(20, dtype=torch.float64),
    )
    dets = torch.linalg.det(O(3).sample(50, generator=generator))
    assert (dets > 0).any() and (dets < 0).any()


def test_lorentz_preserves_minkowski_metric(generator):
    eta = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))
    gs = Lorentz().sample(10, scale=0.5, generator=generator)
    torch.testing.assert_close(gs.transpose(-1, -2) @ eta @ gs, eta.expand_as(gs))


def test_sl_has_unit_determinant_and_scaling_is_a_multiple_of_identity(generator):
    dets = torch.linalg.det(get("SL3").sample(10, scale=0.3, generator=generator))
    torch.testing.assert_close(dets, torch.ones(10, dtype=torch.float64))
    gs = Scaling(3).sample(10, generator=generator)
    torch.testing.assert_close(gs, gs[:, :1, :1] * EYE3)


@pytest.mark.parametrize("axis, index", [("x", 0), ("y", 1), ("z", 2)])
def test_embedded_o2_fixes_its_axis_and_moves_the_others(axis, index, generator):
    gs = O2(axis).sample(20, generator=generator)
    torch.testing.assert_close(gs[:, :, index], EYE3[:, index].expand(20, 3))
    others = [i for i in range(3) if i != index]
    assert (gs[:, :, others] - EYE3[:, others]).abs().amax() > 0.5
    dets = torch.linalg.det(gs)
    assert (dets < 0).any(), "O(2) must include the in-plane reflection"


def test_embedded_o2s_are_distinct_groups():
    groups = [get("O2x"), get("O2y"), get("O2z")]
    assert len({g.name for g in groups}) == 3
    assert len(set(groups)) == 3
    assert len({g.fingerprint for g in groups}) == 3
    assert get("O2x") == O2("x") and hash(get("O2x")) == hash(O2("x"))
    assert get("SO2z") != get("O2z")


def test_registry_covers_its_names():
    for name in names():
        assert get(name).name == name


@pytest.mark.parametrize(
    "name, d",
    [
        ("O7", 7),
        ("SO2", 2),
        ("S10", 10),
        ("Trivial4", 4),
        ("GL2", 2),
        ("Scale5", 5),
        ("SO4xScale4", 4),
        ("SO3+S4", 7),
    ],
)
def test_registry_parses_families(name, d):
    assert get(name).d == d and get(name).name == name


@pytest.mark.parametrize(
    "bad", ["O", "SO3x", "O2w", "S1", "SO3xScale4", "foo", "", "O3+"]
)
def test_unknown_group_names_raise_with_the_accepted_list(bad):
    with pytest.raises(ValueError, match="expected one of"):
        get(bad)


def test_from_generators_infers_compactness():
    flip = torch.diag(torch.tensor([-1.0, 1.0]))
    assert Group.from_generators("Flip", discrete_generators=flip).is_compact
    shear = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    user = Group.from_generators("Shear", lie_algebra=shear)
    assert not user.is_compact and user.d == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lie_algebra": torch.zeros(2, 3)}, "square"),
        (
            {"lie_algebra": torch.zeros(1, 2, 2), "discrete_generators": torch.eye(3)},
            "expected R\\^2",
        ),
        ({"discrete_generators": torch.zeros(2, 2)}, "invertible"),
        ({"lie_algebra": torch.full((1, 2, 2), float("nan"))}, "NaN"),
        ({}, "dimension"),
    ],
)
def test_from_generators_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Group.from_generators("Bad", **kwargs)


def test_union_concatenates_generators_and_checks_dimension():
    G = Union(SO(3), Scaling(3))
    assert G.name == "SO3xScale3" and G == get("SO3xScale3")
    assert G.lie_algebra.shape == (4, 3, 3)
    with pytest.raises(ValueError, match="same R\\^d"):
        Union(SO(3), S(4))


def test_direct_product_samples_are_block_diagonal(generator):
    G = DirectProduct(SO(3), S(4))
    gs = G.sample(5, generator=generator)
    assert torch.equal(gs[:, :3, 3:], torch.zeros(5, 3, 4, dtype=torch.float64))
    assert torch.equal(gs[:, 3:, :3], torch.zeros(5, 4, 3, dtype=torch.float64))
    assert set(gs[:, 3:, 3:].unique().tolist()) <= {0.0, 1.0}


def test_negative_sample_count_raises():
    with pytest.raises(ValueError, match=">= 0"):
        O(3).sample(-1)


def test_lorentz_samples_boosts_at_a_third_of_the_rotations_spread():
    from softeq.groups import Lorentz

    G = Lorentz()
    assert G.lie_scales.tolist() == [1.0, 1.0, 1.0, 0.3, 0.3, 0.3]
    gs = G.sample(4000, generator=torch.Generator().manual_seed(0))
    # rapidity of the boost part: cosh(eta) = |g_00|; with z ~ N(0, 0.3^2 I_3)
    # E[cosh |z|] is about 1.14, and far above 1.5 at scale 1
    mean_gamma = gs[:, 0, 0].abs().mean()
    assert 1.05 < mean_gamma < 1.25


def test_lie_scales_travel_into_unions_and_embeddings():
    from softeq.groups import O, Union, get

    assert get("O2z").lie_scales.tolist() == [1.0]
    union = Union(O(3), get("Scale3"))
    assert union.lie_scales.shape == (union.lie_algebra.shape[0],)


@pytest.mark.parametrize("bad", [[1.0], [1.0, -1.0, 1.0], [float("nan")] * 3])
def test_bad_lie_scales_are_named(bad):
    from softeq.groups import Group

    with pytest.raises(ValueError, match="lie_scales of Mine must be 3 finite"):
        Group("Mine", SO(3).lie_algebra, is_compact=True,
              lie_scales=torch.tensor(bad))  # fmt: skip
