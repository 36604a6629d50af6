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
