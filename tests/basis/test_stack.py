from __future__ import annotations

import pytest
import torch

from softeq.basis import MultiProjector, ProjectorStack
from softeq.groups import get
from softeq.reps import parse
from softeq.testing import relative_error

NAMES = ["O3", "O2x", "O2z"]


def _layers(generator):
    """Four layouts of an EMLP (input, two equal hidden, output), random (W, b)."""
    G = [get(n) for n in NAMES]
    rin, hid, out = (parse(s, G[0]) for s in ("2*V0+2*V", "4*V0+2*V+V2", "V2"))
    shapes = [(rin, hid), (hid, hid), (hid, hid), (hid, out)]
    projectors = [MultiProjector(a, b, G) for a, b in shapes]
    params = [
        (
            torch.randn(b.dim, a.dim, dtype=torch.float64, generator=generator),
            torch.randn(b.dim, dtype=torch.float64, generator=generator),
        )
        for a, b in shapes
    ]
    return projectors, params


@pytest.mark.parametrize("with_bias", [True, False])
def test_stack_equals_the_sum_over_layers(with_bias, generator):
    projectors, params = _layers(generator)
    if not with_bias:
        params[1] = (params[1][0], None)  # a layer without bias, mixed in
    stack = ProjectorStack(projectors)
    leaves = [
        t.requires_grad_(True) for W, b in params for t in (W, b) if t is not None
    ]
    got = stack.residuals(params)
    want = sum(
        mp.residuals(W, b) for mp, (W, b) in zip(projectors, params, strict=True)
    )
    assert relative_error(got, want) <= 1e-12
    assert relative_error(stack.residuals(params, exact=True), want) <= 1e-12
    weights = torch.randn(len(NAMES), dtype=torch.float64, generator=generator)
    g_got = torch.autograd.grad(got @ weights, leaves)
    g_want = torch.autograd.grad(want @ weights, leaves)
    for a, b in zip(g_got, g_want, strict=True):
        assert relative_error(a, b) <= 1e-12


def test_stack_merges_blocks_shared_by_layers(generator):
    projectors, params = _layers(generator)
    stack = ProjectorStack(projectors)
    stack.residuals(params)
    (layout,) = stack._layouts.values()
    per_layer = sum(len(mp._blocks["wb"]) for mp in projectors)
    assert len(layout.blocks) < per_layer - len(projectors[1]._blocks["wb"])


def test_stack_float32_gradients_and_errors(generator):
    projectors, params = _layers(generator)
    stack = ProjectorStack(projectors)
    params32 = [(W.float(), b.float()) for W, b in params]
    got = stack.residuals(params32)
    want = stack.residuals(params, exact=True)
    assert got.dtype == torch.float32
    assert relative_error(got.double(), want) <= 1e-5
    with pytest.raises(ValueError, match="expected 4"):
        stack.residuals(params[:3])
    with pytest.raises(ValueError):
        stack.residuals([(params[0][0].T, None)] + params[1:])
    other = MultiProjector(
        parse("V", get("O3")), parse("V", get("O3")), [get("O3"), get("O2z")]
    )
    with pytest.raises(ValueError, match="same candidate groups"):
        ProjectorStack([projectors[0], other])
    with pytest.raises(ValueError, match="at least one"):
        ProjectorStack([])


def test_float64_masters_are_copied_to_a_device_once():
    from softeq.basis._exact import exact_on

    masters = {"Q": torch.randn(4, 2, dtype=torch.float64)}
    copies: dict = {}
    assert exact_on(masters, copies, "Q", torch.device("cpu")) is masters["Q"]
    assert not copies
    meta = torch.device("meta")  # stands in for a GPU: any device but the master's
    first = exact_on(masters, copies, "Q", meta)
    assert first.device == meta and first.dtype == torch.float64
    assert exact_on(masters, copies, "Q", meta) is first
