"""Tests for `equivariance_error` and `gaussian_inputs`."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.metrics import equivariance_error, gaussian_inputs
from softeq.reps import Rep, parse
from softeq.testing import TOL

O3 = get("O3")
# A clearly broken symmetry: relative error far above any round-off.
BROKEN = 1e-3


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


def random_maps(rep_in: Rep, rep_out: Rep) -> dict[str, nn.Module]:
    return {
        "dense": nn.Linear(rep_in.dim, rep_out.dim, bias=False),
        "affine": nn.Linear(rep_in.dim, rep_out.dim),
        "mlp": nn.Sequential(
            nn.Linear(rep_in.dim, 16), nn.ReLU(), nn.Linear(16, rep_out.dim)
        ),
    }


def reference(f, rep_in, rep_out, group, x, n_samples, generator) -> float:
    """Unvectorised error: one group element and one row at a time."""
    gs = group.sample(n_samples, generator=generator)
    r_in, r_out = rep_in.with_group(group), rep_out.with_group(group)
    errors = []
    with torch.no_grad():
        for g in gs:
            for row in x:
                a, b = f(r_in.act(g, row)[None])[0], r_out.act(g, f(row[None])[0])
                errors.append(float((a - b).norm() / (a.norm() + b.norm())))
    return sum(errors) / len(errors)


@pytest.mark.parametrize("name", ["O3", "SO3", "O2z", "S5", "Scale3"])
def test_zero_for_equivariant_scalar_map(name, generator):
    G = get(name)
    rep = parse("2*V", G)
    x = gaussian_inputs(rep, 16, generator=generator, dtype=torch.float64)
    scale = G.sample_scale  # bounded samples for non-compact groups
    error = equivariance_error(
        lambda v: 0.5 * v, rep, rep, G, x, generator=generator, scale=scale
    )
    assert error <= TOL["layer"][torch.float64]


def test_zero_for_projected_map_and_reps_are_rebound(generator):
    O2z = get("O2z")
    rep_in, rep_out = parse("5*V0+5*V", O3), parse("V2+V0", O3)
    f = projected_linear(rep_in.with_group(O2z), rep_out.with_group(O2z), generator)
    x = gaussian_inputs(rep_in, 32, generator=generator, dtype=torch.float64)
    error_z = equivariance_error(f, rep_in, rep_out, O2z, x, generator=generator)
    error_x = equivariance_error(f, rep_in, rep_out, get("O2x"), x)
    error_o3 = equivariance_error(f, rep_in, rep_out, O3, x, generator=generator)
    assert error_z <= TOL["layer"][torch.float64]
    assert error_x > BROKEN and error_o3 > BROKEN


@pytest.mark.parametrize("kind", ["dense", "affine", "mlp"])
def test_random_map_is_in_unit_interval(kind, generator):
    rep_in, rep_out = parse("3*V", O3), parse("V+V0", O3)
    f = random_maps(rep_in, rep_out)[kind].double()
    x = gaussian_inputs(rep_in, 32, generator=generator, dtype=torch.float64)
    error = equivariance_error(f, rep_in, rep_out, O3, x, generator=generator)
    assert BROKEN < error <= 1.0


def test_never_above_one_for_opposite_outputs(generator):
    # For g = -I, f(gx) = -g f(x) exactly: the worst case, error 1.
    C2 = get("C2")
    rep = parse("V", C2)

    def f(x: Tensor) -> Tensor:
        return x * torch.where(x[:, :1] >= 0, 1.0, -1.0)

    x = gaussian_inputs(rep, 64, generator=generator, dtype=torch.float64)
    error = equivariance_error(f, rep, rep, C2, x, n_samples=32, generator=generator)
    assert 0.0 < error <= 1.0


@pytest.mark.parametrize("c", [1e-3, 7.0, -2.0])
def test_invariant_to_scaling_the_model(c, generator):
    rep_in, rep_out = parse("V0+2*V", O3), parse("V2", O3)
    f = random_maps(rep_in, rep_out)["mlp"].double()
    x = gaussian_inputs(rep_in, 16, generator=generator, dtype=torch.float64)
    seed = int(torch.randint(0, 2**31, (1,), generator=generator))
    errors = [
        equivariance_error(
            h, rep_in, rep_out, O3, x, generator=torch.Generator().manual_seed(seed)
        )
        for h in (f, lambda v: c * f(v))
    ]
    assert errors[0] == pytest.approx(errors[1], rel=1e-12)


def test_matches_unvectorised_reference(generator):
    rep_in, rep_out = parse("V0+2*V", O3), parse("V+V2", O3)
    f = random_maps(rep_in, rep_out)["mlp"].double()
    x = gaussian_inputs(rep_in, 6, generator=generator, dtype=torch.float64)
    got = equivariance_error(
        f, rep_in, rep_out, O3, x, 5, generator=torch.Generator().manual_seed(2)
    )
    want = reference(f, rep_in, rep_out, O3, x, 5, torch.Generator().manual_seed(2))
    assert got == pytest.approx(want, rel=1e-10)


def test_zero_outputs_give_zero_not_nan(generator):
    rep = parse("V", O3)
    x = gaussian_inputs(rep, 4, generator=generator, dtype=torch.float64)
    assert equivariance_error(torch.zeros_like, rep, rep, O3, x) == 0.0


def test_runs_without_autograd(generator):
    rep = parse("V", O3)
    seen = []

    def f(x: Tensor) -> Tensor:
        seen.append(torch.is_grad_enabled())
        return x

    x = gaussian_inputs(rep, 4, generator=generator).requires_grad_(True)
    error = equivariance_error(f, rep, rep, O3, x, generator=generator)
    assert isinstance(error, float) and seen == [False, False]


def test_float32_smoke(generator):
    rep_in, rep_out = parse("5*V0+5*V", O3), parse("V2", O3)
    f = projected_linear(rep_in, rep_out, generator).float()
    x = gaussian_inputs(rep_in, 16, generator=generator)
    assert x.dtype == torch.float32
    error = equivariance_error(f, rep_in, rep_out, O3, x, generator=generator)
    assert error <= TOL["layer"][torch.float32]


def test_gaussian_inputs_are_standard_normal_and_reproducible():
    rep = parse("5*V0+5*V", O3)
    a = gaussian_inputs(rep, 4000, generator=torch.Generator().manual_seed(0))
    b = gaussian_inputs(
        rep, 4000, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    assert a.shape == (4000, 20) and a.dtype == torch.float32
    assert torch.equal(a, b.float())
    # Loose, seeded moment checks: 80k samples, standard errors ~0.004 and ~0.005.
    assert abs(float(b.mean())) < 0.02 and abs(float(b.std()) - 1) < 0.02


def test_gaussian_inputs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Rep"):
        gaussian_inputs("V", 3)
    with pytest.raises(ValueError, match="n >= 0"):
        gaussian_inputs(parse("V", O3), -1)


@pytest.mark.parametrize("shape", [(4, 5), (6,), (2, 3, 6), (0, 6)])
def test_rejects_bad_input_shape(shape):
    rep = parse("2*V", O3)
    with pytest.raises(ValueError, match="\\(batch >= 1, 6\\)"):
        equivariance_error(lambda v: v, rep, rep, O3, torch.zeros(shape))


@pytest.mark.parametrize("name", ["O5", "S4", "SO2x+S4"])
def test_rejects_group_of_other_d(name):
    rep = parse("V", O3)
    with pytest.raises(ValueError, match="acts on R\\^"):
        equivariance_error(lambda v: v, rep, rep, get(name), torch.zeros(2, 3))


def test_rejects_bad_n_samples_and_model_output():
    rep = parse("2*V", O3)
    x = torch.zeros(2, 6)
    with pytest.raises(ValueError, match="n_samples"):
        equivariance_error(lambda v: v, rep, rep, O3, x, 0)
    with pytest.raises(ValueError, match="f must return"):
        equivariance_error(lambda v: v[:, :3], rep, rep, O3, x)
