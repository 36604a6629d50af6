"""Tests for `FrameAveraged`, the frame-averaging O(3) baseline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.regularizers import FrameAveraged
from softeq.reps import Rep, parse
from softeq.testing import TOL, assert_equivariant, relative_error

O3 = get("O3")
LAYOUTS = {
    "inertia": ("5*V0+5*V", "V2"),
    "points": ("3*V", "V"),
    "interleaved": ("V0+V+V2+2*V+V0", "V+V0+V2"),
    "duals": ("4*V+V*", "V*+V0"),
}


def mlp(rep_in: Rep, rep_out: Rep) -> nn.Module:
    """A random MLP; frozen, so that checkers need no autograd graph."""
    return (
        nn.Sequential(nn.Linear(rep_in.dim, 32), nn.Tanh(), nn.Linear(32, rep_out.dim))
        .double()
        .requires_grad_(False)
    )


def permuted_rep() -> Rep:
    """3V + (V0+V)⊗(V0+V): five vector copies, two of them in a permuted layout."""
    pair = parse("V0+V", O3)
    return parse("3*V", O3) + pair * pair


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_frame_averaged_mlp_is_equivariant(layout, generator):
    rep_in, rep_out = parse(layout[0], O3), parse(layout[1], O3)
    fa = FrameAveraged(mlp(rep_in, rep_out), rep_in, rep_out)
    assert_equivariant(fa, rep_in, rep_out, check="model", generator=generator)


def test_permuted_layout_is_equivariant(generator):
    rep_in = permuted_rep()
    assert rep_in.index is not None
    rep_out = parse("V", O3)
    fa = FrameAveraged(mlp(rep_in, rep_out), rep_in, rep_out)
    assert_equivariant(fa, rep_in, rep_out, check="model", generator=generator)


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
def test_bare_mlp_is_not_equivariant(layout, generator):
    # Negative control: the checker does fail without frame averaging.
    rep_in, rep_out = parse(layout[0], O3), parse(layout[1], O3)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(
            mlp(rep_in, rep_out), rep_in, rep_out, check="model", generator=generator
        )


def test_equivariant_model_is_unchanged(generator):
    rep_in, rep_out = parse("2*V0+3*V", O3), parse("V2+V0", O3)
    model = nn.Linear(rep_in.dim, rep_out.dim, dtype=torch.float64)
    projector = BlockProjector(rep_in, rep_out)
    with torch.no_grad():
        model.weight.copy_(projector.project(model.weight))
        model.bias.copy_(projector.project_bias(model.bias))
    x = torch.randn(8, rep_in.dim, dtype=torch.float64, generator=generator)
    fa = FrameAveraged(model, rep_in, rep_out)
    assert relative_error(fa(x), model(x)) <= TOL["model"][torch.float64]


def test_frames_are_orthogonal_and_signed(generator):
    rep_in = parse("4*V", O3)
    fa = FrameAveraged(nn.Identity(), rep_in, rep_in)
    x = torch.randn(5, rep_in.dim, dtype=torch.float64, generator=generator)
    frames = fa.frames(x)
    assert frames.shape == (5, 8, 3, 3)
    eye = torch.eye(3, dtype=torch.float64).expand_as(frames)
    torch.testing.assert_close(frames.transpose(-1, -2) @ frames, eye)
    dets = torch.linalg.det(frames)
    assert torch.equal((dets > 0).sum(dim=1), torch.full((5,), 4))


def test_vector_positions_follow_the_layout():
    rep = parse("V0+V+V2+2*V", O3)
    fa = FrameAveraged(nn.Identity(), rep, rep)
    want = torch.tensor([[1, 2, 3], [13, 14, 15], [16, 17, 18]])
    assert torch.equal(fa.point_index, want)


def test_vector_positions_follow_the_index():
    rep = permuted_rep()
    pos = FrameAveraged(nn.Identity(), rep, rep).point_index
    assert pos.shape == (5, 3)
    x = torch.arange(rep.dim, dtype=torch.float64)
    g = O3.sample(1, generator=torch.Generator().manual_seed(0))[0]
    torch.testing.assert_close(rep.act(g, x)[pos], x[pos] @ g.T)


def test_gradients_reach_the_model(generator):
    rep_in, rep_out = parse("3*V", O3), parse("V", O3)
    model = mlp(rep_in, rep_out).requires_grad_(True)
    fa = FrameAveraged(model, rep_in, rep_out)
    x = torch.randn(4, rep_in.dim, dtype=torch.float64, generator=generator)
    fa(x).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    # The output bias of a vector output averages to zero over the 8 sign frames.
    assert model[0].weight.grad.norm() > 0 and model[2].weight.grad.norm() > 0


def test_float32_smoke(generator):
    rep_in, rep_out = parse("5*V0+5*V", O3), parse("V2", O3)
    fa = FrameAveraged(mlp(rep_in, rep_out).float(), rep_in, rep_out)
    y = fa(torch.randn(4, rep_in.dim, generator=generator))
    assert y.shape == (4, rep_out.dim) and y.dtype == torch.float32
    assert_equivariant(
        fa, rep_in, rep_out, dtype=torch.float32, check="model", generator=generator
    )


@pytest.mark.parametrize(
    ("rep_in", "rep_out", "match"),
    [
        (parse("3*V", get("O5")), parse("V", get("O5")), "R\\^3"),
        (parse("3*V", O3), parse("V", get("SO4")), "R\\^3"),
        (parse("2*V+V0+V2", O3), parse("V", O3), "at least 3"),
        (parse("5*V*", O3), parse("V", O3), "at least 3"),
    ],
    ids=["O5", "rep_out-d", "two-vectors", "only-duals"],
)
def test_rejects_bad_reps(rep_in, rep_out, match):
    with pytest.raises(ValueError, match=match):
        FrameAveraged(nn.Identity(), rep_in, rep_out)


@pytest.mark.parametrize("shape", [(4, 8), (9,), (2, 3, 9)])
def test_rejects_bad_input_shape(shape):
    rep = parse("3*V", O3)
    fa = FrameAveraged(nn.Identity(), rep, rep)
    with pytest.raises(ValueError, match="\\(batch, 9\\)"):
        fa(torch.zeros(shape))


def test_rejects_bad_model_output():
    rep = parse("3*V", O3)
    fa = FrameAveraged(lambda x: x[:, :3], rep, rep)
    with pytest.raises(ValueError, match="rep_out"):
        fa(torch.zeros(4, 9))
