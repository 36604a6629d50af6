from __future__ import annotations

import pytest
import torch

from softeq.basis import BlockProjector, MultiProjector, is_subgroup
from softeq.groups import get
from softeq.reps import parse
from softeq.testing import TOL, relative_error


@pytest.mark.parametrize(
    "sub, big, expected",
    [
        ("O2x", "O3", True), ("O2z", "O3", True), ("SO3", "O3", True),
        ("SO2z", "O2z", True), ("S3", "O3", True), ("C4", "SO2", True),
        ("D4", "O2", True), ("SO3", "SO3xScale3", True), ("Scale3", "SO3xScale3", True),
        ("SL3", "GL3", True), ("O3", "O3", True),
        ("O3", "SO3", False), ("Scale3", "O3", False), ("O3", "SO3xScale3", False),
        ("O2x", "O2z", False), ("S3", "SO3", False), ("D4", "SO2", False),
        ("GL3", "SL3", False), ("S4", "O3", False),
    ],
)  # fmt: skip
def test_is_subgroup(sub, big, expected):
    assert is_subgroup(get(sub), get(big)) is expected


def test_multi_projector_matches_separate_projectors(generator):
    Gs = [get(n) for n in ["O3", "O2x", "SO2z"]]
    rep_in, rep_out = parse("2*V0+V+V2", Gs[0]), parse("V+V0+V2", Gs[0])
    mp = MultiProjector(rep_in, rep_out, Gs)
    W = torch.randn(rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator)
    b = torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
    separate = torch.stack(
        [BlockProjector(rep_in.with_group(G), rep_out.with_group(G)).residual(W, b)
         for G in Gs]
    )  # fmt: skip
    scale = W.square().sum() + b.square().sum()
    assert (mp.residuals(W, b) - separate).abs().max() < 1e-13 * scale
    assert (mp.residuals(W) <= mp.residuals(W, b)).all()


def test_multi_projector_rejects_bad_input():
    G = get("O3")
    with pytest.raises(ValueError, match="at least one"):
        MultiProjector(parse("V", G), parse("V", G), [])
    mp = MultiProjector(parse("V", G), parse("V", G), [G])
    with pytest.raises(ValueError, match="2-D weight"):
        mp.residuals(torch.zeros(2, 3, 3))


def test_multi_projector_gradient_is_the_complement_projection(generator):
    """The hand-written backward: d/dW of sum_j c_j R_j is sum_j c_j (W - P_j W)."""
    Gs = [get(n) for n in ["O3", "O2x", "SO2z"]]
    rep_in, rep_out = parse("2*V0+V+V2", Gs[0]), parse("V+V0+V2", Gs[0])
    mp = MultiProjector(rep_in, rep_out, Gs)
    W = torch.randn(rep_out.dim, rep_in.dim, dtype=torch.float64, generator=generator)
    b = torch.randn(rep_out.dim, dtype=torch.float64, generator=generator)
    W.requires_grad_(True)
    b.requires_grad_(True)
    strengths = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    grad_W, grad_b = torch.autograd.grad((strengths * mp.residuals(W, b)).sum(), [W, b])
    expected_W, expected_b = torch.zeros_like(W), torch.zeros_like(b)
    for c, proj in zip(strengths, mp.projectors.values(), strict=True):
        expected_W += c * (W - proj.project(W)).detach()
        expected_b += c * (b - proj.project_bias(b)).detach()
    assert relative_error(grad_W, expected_W) <= TOL["layer"][torch.float64]
    assert relative_error(grad_b, expected_b) <= TOL["layer"][torch.float64]
    assert torch.autograd.gradcheck(mp.residuals, (W, b))
    assert torch.autograd.gradcheck(mp.residuals, (W,))


def test_multi_projector_float32_matches_exact(generator):
    G = [get(n) for n in ["O3", "O2z"]]
    mp = MultiProjector(parse("2*V0+V", G[0]), parse("V+V2", G[0]), G).float()
    W = torch.randn(12, 5, generator=generator)
    b = torch.randn(12, generator=generator)
    fast, exact = mp.residuals(W, b), mp.residuals(W, b, exact=True)
    assert exact.dtype == torch.float64
    assert relative_error(fast.double(), exact) <= TOL["layer"][torch.float32]
