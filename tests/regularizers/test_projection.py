from __future__ import annotations

import pytest
import torch
from torch import nn

from softeq.groups import get
from softeq.metrics import weight_residuals
from softeq.nn import SoftLinear, soft_layers
from softeq.nn.models import SoftEMLP
from softeq.regularizers import ProjectionPenalty
from softeq.reps import parse

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def model(generator):
    Gs = [get(n) for n in CANDIDATES]
    return SoftEMLP(parse("5*V0+5*V", Gs[0]), parse("V2", Gs[0]), Gs, ch=24,
                    num_layers=2, generator=generator).double()  # fmt: skip


def test_penalty_sums_every_soft_layer_per_group(generator):
    net = model(generator)
    penalty = ProjectionPenalty(net)
    assert len(penalty.layers) == 3 and penalty.group_names == tuple(CANDIDATES)
    totals = penalty(exact=True)
    per_layer = penalty.per_layer()
    for name in CANDIDATES:
        assert float(totals[name]) == pytest.approx(sum(d[name] for d in per_layer))
        assert float(totals[name]) > 0


def test_penalty_finds_layers_by_type_in_any_module(generator):
    G = [get("O3"), get("O2z")]
    net = nn.Sequential(
        SoftLinear(parse("V", G[0]), parse("V", G[0]), G), nn.Tanh(), nn.Linear(3, 3)
    )
    assert soft_layers(net) == [net[0]]
    assert set(ProjectionPenalty(net)()) == {"O3", "O2z"}
    with pytest.raises(ValueError, match="no SoftLinear"):
        ProjectionPenalty(nn.Linear(3, 3))


def test_training_on_the_penalty_alone_drives_it_down(generator):
    net = model(generator)
    penalty = ProjectionPenalty(net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    start = penalty(exact=True)["O2z"]
    for _ in range(20):
        opt.zero_grad()
        penalty()["O2z"].backward()
        opt.step()
    assert penalty(exact=True)["O2z"] < 0.5 * start


def test_weight_residuals_are_normalised_and_vanish_after_projection(generator):
    net = model(generator)
    res = weight_residuals(net)
    assert set(res) == set(CANDIDATES)
    for entry in res.values():
        assert len(entry["layers"]) == 3
        assert all(0 < r <= 1 for r in entry["layers"]) and 0 < entry["total"] <= 1
    net.project_("O2y")
    res = weight_residuals(net)
    assert res["O2y"]["total"] < 1e-14
    assert res["O2x"]["total"] > 1e-3 and res["O3"]["total"] > 1e-3
    with pytest.raises(ValueError, match="no SoftLinear"):
        weight_residuals(nn.Linear(2, 2))


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("strength", [0.5, 3.0, 40.0])
def test_proximal_step_is_the_prox_of_one_groups_penalty(generator, strength):
    """For one group, the step minimises ½‖V − W‖² + ηλR(V): the penalty
    shrinks by exactly (1 + ηλ)⁻², the on-group part is untouched, and the
    objective's gradient vanishes at the result."""
    net, step = model(generator), 0.01
    penalty = ProjectionPenalty(net)
    before, W0 = penalty(exact=True), _params(net)
    projected = [(L.projectors.projectors["O2z"].project(L.weight.detach()))
                 for L in penalty.layers]  # fmt: skip
    penalty.proximal_step({"O2z": strength}, step)
    after = penalty(exact=True)
    shrink = (1 + step * strength) ** -2
    assert float(after["O2z"]) == pytest.approx(float(before["O2z"]) * shrink, rel=1e-9)
    for L, PW in zip(penalty.layers, projected, strict=True):
        on_group = L.projectors.projectors["O2z"].project(L.weight.detach())
        torch.testing.assert_close(on_group, PW)
    # stationarity of ½‖V − W0‖² + ηλR(V) at V = the step's result
    objective = 0.5 * sum((p - w).square().sum() for p, w in
                          zip(net.parameters(), W0, strict=True))  # fmt: skip
    objective = objective + step * strength * penalty()["O2z"]
    grads = torch.autograd.grad(objective, list(net.parameters()), allow_unused=True)
    assert max(float(g.abs().max()) for g in grads if g is not None) < 1e-10


def test_proximal_step_limits_zero_and_infinite_strength(generator):
    net = model(generator)
    penalty = ProjectionPenalty(net)
    W0 = _params(net)
    penalty.proximal_step({"O3": 0.0, "O2z": 0.0}, 0.1)
    for p, w in zip(net.parameters(), W0, strict=True):
        torch.testing.assert_close(p.detach(), w, rtol=0, atol=0)
    penalty.proximal_step({"O2z": 1e12}, 1.0)  # the projection itself
    assert float(penalty(exact=True)["O2z"]) < 1e-18
    assert float(penalty(exact=True)["O3"]) > 0


def test_proximal_steps_of_nested_groups_commute(generator):
    """Hom_O3 ⊂ Hom_O2z, so P_O3 and P_O2z commute and the split is exact:
    the order of the groups does not matter."""
    a, b = model(generator), None
    b = model(torch.Generator().manual_seed(0))
    b.load_state_dict(a.state_dict())
    ProjectionPenalty(a).proximal_step({"O3": 2.0, "O2z": 5.0}, 0.1)
    ProjectionPenalty(b).proximal_step({"O2z": 5.0, "O3": 2.0}, 0.1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_proximal_step_rejects_bad_numbers(generator):
    penalty = ProjectionPenalty(model(generator))
    with pytest.raises(ValueError, match="step must be finite"):
        penalty.proximal_step({"O2z": 1.0}, float("nan"))
    with pytest.raises(ValueError, match="strength of O2z"):
        penalty.proximal_step({"O2z": -1.0}, 0.1)


def test_project_puts_every_layer_on_the_groups_maps_and_is_idempotent(generator):
    net = model(generator)
    penalty = ProjectionPenalty(net)
    before = penalty(exact=True)
    assert all(float(v) > 0 for v in before.values())
    penalty.project("O3")
    # O(3)'s maps are equivariant for every subgroup: every penalty is now zero
    after = penalty(exact=True)
    assert all(float(v) < 1e-20 for v in after.values())
    W1 = _params(net)
    penalty.project("O3")
    for p, w in zip(net.parameters(), W1, strict=True):
        torch.testing.assert_close(p.detach(), w, rtol=0, atol=1e-12)


def test_project_onto_a_subgroup_keeps_its_maps_only(generator):
    net = model(generator)
    penalty = ProjectionPenalty(net)
    o3_before = float(penalty(exact=True)["O3"])
    penalty.project("O2z")
    after = penalty(exact=True)
    assert float(after["O2z"]) < 1e-20
    # what is left off O(3)'s maps lies in O2z's maps: less than before, not zero
    assert 0 < float(after["O3"]) < o3_before
    with pytest.raises(ValueError, match="no soft layer has 'SO5'"):
        penalty.project("SO5")


def test_hidden_penalty_sums_every_soft_layer_but_the_last(generator):
    """R^hid_j is group j's penalty on the hidden layers only: the per-layer
    values of every layer but the output, and no gradient on the output map."""
    net = model(generator)
    penalty = ProjectionPenalty(net)
    per_layer = penalty.per_layer()
    for name in CANDIDATES:
        hidden = penalty.hidden(name).detach()
        assert float(hidden) == pytest.approx(sum(d[name] for d in per_layer[:-1]))
    penalty.hidden("O3").backward()
    out = penalty.layers[-1]
    assert out.weight.grad is None and out.bias.grad is None
    assert all(float(L.weight.grad.abs().max()) > 0 for L in penalty.layers[:-1])


def test_proximal_hidden_shrinks_the_hidden_layers_and_leaves_the_output(generator):
    net, step, strength = model(generator), 0.01, 7.0
    penalty = ProjectionPenalty(net)
    before = penalty.per_layer()
    out = penalty.layers[-1]
    W_out, b_out = out.weight.detach().clone(), out.bias.detach().clone()
    penalty.proximal_hidden("O3", strength, step)
    after = penalty.per_layer()
    shrink = (1 + step * strength) ** -2
    for b, a in zip(before[:-1], after[:-1], strict=True):
        assert a["O3"] == pytest.approx(b["O3"] * shrink, rel=1e-9)
    torch.testing.assert_close(out.weight.detach(), W_out, rtol=0, atol=0)
    torch.testing.assert_close(out.bias.detach(), b_out, rtol=0, atol=0)


def test_hidden_penalty_needs_hidden_soft_layers_with_the_group(generator):
    penalty = ProjectionPenalty(model(generator))
    with pytest.raises(ValueError, match="no hidden soft layer has 'SO2z'"):
        penalty.hidden("SO2z")
    G = [get("O3"), get("O2z")]
    one = ProjectionPenalty(SoftLinear(parse("V", G[0]), parse("V", G[0]), G))
    with pytest.raises(ValueError, match="one SoftLinear layer"):
        one.hidden("O3")
    with pytest.raises(ValueError, match="one SoftLinear layer"):
        one.proximal_hidden("O3", 1.0, 0.1)
    with pytest.raises(ValueError, match="strength of O3"):
        penalty.proximal_hidden("O3", -1.0, 0.1)
