from __future__ import annotations

import math

import pytest
import torch

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.metrics import (
    orbit_errors,
    orbit_parameters,
    render_markdown,
    symmetry_report,
    verdict,
)
from softeq.reps import parse

NAMES = ["O3", "O2x", "O2y", "O2z"]


def o2z_linear(generator):
    G = get("O2z")
    P = BlockProjector(parse("V0+V", G), parse("V", G))
    W = P.project(torch.randn(3, 4, dtype=torch.float64, generator=generator))
    return lambda x: x @ W.T


def test_verdict_thresholds():
    assert [verdict(e) for e in (0.0, 0.019, 0.05, 0.2)] == [
        "exact", "exact", "approximate", "broken",
    ]  # fmt: skip


def test_report_ranks_the_respected_group_first(generator):
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(32, 4, dtype=torch.float64, generator=generator)
    truth = {"O3": "broken", "O2x": "broken", "O2y": "broken", "O2z": "exact"}
    report = symmetry_report(f, rep_in, rep_out, NAMES, x, true_fn=f, truth=truth)
    first = report["groups"][0]
    assert first["name"] == "O2z" and first["verdict"] == "exact" and first["rank"] == 1
    assert first["equivariance_error"] < 1e-12 and first["true_error"] < 1e-12
    assert all(e["verdict"] == "broken" for e in report["groups"][1:])
    assert all(e["residual"] is None for e in report["groups"])  # no soft layers
    md = render_markdown(report)
    assert md.splitlines()[4].startswith("| 1 | O2z | **exact**")
    assert "exact below 0.02" in md


def test_orbit_errors_vanish_for_the_own_axis_only(generator):
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(8, 4, dtype=torch.float64, generator=generator)
    ts, label = orbit_parameters(get("O2z"), 16)
    assert label == "angle" and ts[-1] < 2 * math.pi
    own = orbit_errors(f, rep_in, rep_out, get("O2z"), x, ts, target=f)
    assert own["equivariance_error"].max() < 1e-12 and own["task_mse"].max() < 1e-20
    other = orbit_errors(f, rep_in, rep_out, get("O2x"), x, ts)
    assert other["equivariance_error"][0] < 1e-12  # t = 0 is the identity
    assert other["equivariance_error"].max() > 0.05
    assert orbit_parameters(get("Scale3"))[1] == "log-scale"
    assert orbit_parameters(get("S4")) is None


def test_report_needs_known_groups(generator):
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    with pytest.raises(ValueError, match="unknown group"):
        symmetry_report(f, rep_in, rep_out, ["O4z"], torch.zeros(2, 4))
