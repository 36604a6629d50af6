"""Tests for `GroupAugmentation`, the data-augmentation baseline wrapper."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.regularizers import GroupAugmentation
from softeq.reps import Rep, parse
from softeq.testing import TOL, relative_error

# A clearly changed output: relative error far above any round-off.
CHANGED = 1e-3


def projected_linear(rep_in: Rep, rep_out: Rep, generator: torch.Generator):
    """A float64 dense layer projected onto rep_in.group's equivariant maps."""
    layer = nn.Linear(rep_in.dim, rep_out.dim, dtype=torch.float64)
    projector = BlockProjector(rep_in, rep_out)
    W = torch.randn(rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator)
    b = torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        layer.weight.copy_(projector.project(W))
        layer.bias.copy_(projector.project_bias(b))
    return layer


def mlp(rep_in: Rep, rep_out: Rep) -> nn.Module:
    return nn.Sequential(
        nn.Linear(rep_in.dim, 32), nn.SiLU(), nn.Linear(32, rep_out.dim)
    ).double()


def inputs(rep: Rep, generator: torch.Generator, n: int = 16):
    return torch.randn(n, rep.dim, dtype=torch.float64, generator=generator)


@pytest.mark.parametrize("name", ["O3", "O2z", "SO3"])
def test_equivariant_model_is_unchanged_in_training(name, generator):
    G = get(name)
    rep_in, rep_out = parse("2*V0+2*V", G), parse("V+V2+V0", G)
    model = projected_linear(rep_in, rep_out, generator)
    wrapped = GroupAugmentation(model, G, rep_in, rep_out, generator=generator).train()
    x = inputs(rep_in, generator)
    assert relative_error(wrapped(x), model(x)) <= TOL["model"][torch.float64]


def test_non_orthogonal_group_uses_the_true_inverse(generator):
    # GL(3) is non-compact (bounded samples): rho(g)^T is not rho(g)^-1 here.
    G = get("GL3")
    rep = parse("2*V", G)
    wrapped = GroupAugmentation(
        lambda x: 3.0 * x, G, rep, rep, scale=0.3, generator=generator
    )
    x = inputs(rep, generator)
    assert relative_error(wrapped(x), 3.0 * x) <= TOL["model"][torch.float64]


def test_eval_mode_returns_model_output(generator):
    G = get("O3")
    rep_in, rep_out = parse("3*V", G), parse("V", G)
    model = mlp(rep_in, rep_out)
    wrapped = GroupAugmentation(model, G, rep_in, rep_out, generator=generator).eval()
    x = inputs(rep_in, generator)
    assert torch.equal(wrapped(x), model(x))


def test_training_mode_changes_a_non_equivariant_model(generator):
    G = get("O3")
    rep_in, rep_out = parse("3*V", G), parse("V", G)
    model = mlp(rep_in, rep_out)
    wrapped = GroupAugmentation(model, G, rep_in, rep_out, generator=generator)
    x = inputs(rep_in, generator)
    assert relative_error(wrapped(x), model(x)) > CHANGED


def test_each_row_gets_its_own_element(generator):
    G = get("O3")
    rep_in, rep_out = parse("3*V", G), parse("V", G)
    wrapped = GroupAugmentation(mlp(rep_in, rep_out), G, rep_in, rep_out)
    x = inputs(rep_in, generator, n=1).expand(6, -1)
    y = wrapped(x)
    assert torch.cdist(y, y).fill_diagonal_(1.0).min() > 0


def test_matches_per_row_reference(generator):
    G = get("O3")
    rep_in, rep_out = parse("V0+2*V", G), parse("V2", G)
    model = mlp(rep_in, rep_out)
    wrapped = GroupAugmentation(
        model, G, rep_in, rep_out, generator=torch.Generator().manual_seed(7)
    )
    x = inputs(rep_in, generator, n=5)
    gs = G.sample(5, generator=torch.Generator().manual_seed(7))
    want = torch.stack(
        [
            torch.linalg.solve(rep_out.rho(g), model(rep_in.act(g, row)))
            for g, row in zip(gs, x, strict=True)
        ]
    )
    torch.testing.assert_close(wrapped(x), want, rtol=1e-10, atol=1e-12)


def test_reproducible_with_generator(generator):
    G = get("O3")
    rep = parse("2*V", G)
    model = mlp(rep, rep)
    x = inputs(rep, generator)
    a, b = (
        GroupAugmentation(
            model, G, rep, rep, generator=torch.Generator().manual_seed(5)
        )
        for _ in range(2)
    )
    assert torch.equal(a(x), b(x))


def test_gradients_reach_the_model(generator):
    G = get("O3")
    rep = parse("2*V", G)
    model = mlp(rep, rep)
    wrapped = GroupAugmentation(model, G, rep, rep, generator=generator)
    wrapped(inputs(rep, generator)).square().sum().backward()
    assert all(p.grad is not None and p.grad.norm() > 0 for p in model.parameters())
    assert list(wrapped.parameters()) == list(model.parameters())


def test_float32_smoke(generator):
    G = get("O3")
    rep_in, rep_out = parse("2*V0+2*V", G), parse("V+V0", G)
    model = projected_linear(rep_in, rep_out, generator).float()
    wrapped = GroupAugmentation(model, G, rep_in, rep_out, generator=generator)
    x = inputs(rep_in, generator).float()
    y = wrapped(x)
    assert y.dtype == torch.float32
    assert relative_error(y, model(x)) <= TOL["model"][torch.float32]


def test_reps_are_rebound_to_the_group():
    rep = parse("V", get("O3"))
    wrapped = GroupAugmentation(nn.Identity(), get("O2z"), rep, rep)
    assert wrapped.rep_in.group == get("O2z") == wrapped.rep_out.group
    assert "O2z" in repr(wrapped)


def test_rejects_group_of_other_d():
    rep = parse("V", get("O3"))
    with pytest.raises(ValueError, match="R\\^5"):
        GroupAugmentation(nn.Identity(), get("O5"), rep, rep)


@pytest.mark.parametrize("shape", [(4, 5), (6,), (2, 3, 6)])
def test_rejects_bad_input_shape(shape):
    rep = parse("2*V", get("O3"))
    wrapped = GroupAugmentation(nn.Identity(), get("O3"), rep, rep)
    with pytest.raises(ValueError, match="\\(batch, 6\\)"):
        wrapped(torch.zeros(shape))


def test_rejects_bad_model_output():
    rep = parse("2*V", get("O3"))
    wrapped = GroupAugmentation(lambda x: x[:, :3], get("O3"), rep, rep)
    with pytest.raises(ValueError, match="rep_out"):
        wrapped(torch.zeros(4, 6))
