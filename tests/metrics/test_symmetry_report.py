from __future__ import annotations

import math

import pytest
import torch

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.metrics import (
    COST_THRESHOLDS,
    orbit_errors,
    orbit_parameters,
    render_markdown,
    summary_line,
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
    lines = md.splitlines()
    assert (
        lines[2]
        == "**Exact:** O2z. **Approximate:** none. **Broken:** "
        + ", ".join(e["name"] for e in report["groups"][1:])
        + "."
    )
    assert lines[6].startswith("| 1 | O2z | **exact**")
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


def test_with_targets_verdicts_and_ranks_come_from_the_cost(generator):
    # an O(2)_z map and targets it fits up to noise: the cost is ~0 for O2z and
    # large for the groups the targets break, even though the verdict basis moves
    # from the model's equivariance error to the data's symmetry cost
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(500, 4, dtype=torch.float64, generator=generator)
    y = f(x) + 0.1 * torch.randn(500, 3, dtype=torch.float64, generator=generator)
    report = symmetry_report(f, rep_in, rep_out, NAMES, x, y=y)
    assert report["verdict_basis"] == "cost"
    assert report["thresholds"] == COST_THRESHOLDS
    first, *rest = report["groups"]
    assert first["name"] == "O2z" and first["verdict"] == "exact"
    assert abs(first["cost"]) < 1e-9 and first["cost_stderr"] >= 0
    assert first["averaged_mse"] == pytest.approx(report["mse"], rel=1e-9)
    assert all(e["verdict"] == "broken" for e in rest)
    costs = [e["cost"] for e in report["groups"]]
    assert costs == sorted(costs)
    md = render_markdown(report)
    assert (
        "cost (±se)" in md.splitlines()[4] and "Verdicts from the symmetry cost" in md
    )


def test_without_targets_there_is_no_cost(generator):
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(16, 4, dtype=torch.float64, generator=generator)
    report = symmetry_report(f, rep_in, rep_out, NAMES, x)
    assert report["verdict_basis"] == "equivariance_error"
    assert all(e["cost"] is None and e["cost_stderr"] is None for e in report["groups"])
    assert "cost" not in render_markdown(report).splitlines()[4]


def test_cost_verdict_thresholds():
    values = (-0.1, 0.19, 0.5, 1.0, 40.0)
    assert [verdict(v, COST_THRESHOLDS) for v in values] == [
        "exact", "exact", "approximate", "broken", "broken",
    ]  # fmt: skip


def test_summary_says_what_averaging_over_the_exact_group_does():
    report = {
        "verdict_basis": "cost",
        "mse": 2.0,
        "groups": [
            {"name": "O2z", "verdict": "exact", "averaged_mse": 1.5},
            {"name": "O2x", "verdict": "approximate", "averaged_mse": 2.2},
            {"name": "O3", "verdict": "broken", "averaged_mse": 5.0},
        ],
    }
    line = summary_line(report)
    assert line.startswith("**Exact:** O2z. **Approximate:** O2x. **Broken:** O3.")
    assert "over O2z changes its held-out MSE by -25%" in line
    report["groups"][0]["verdict"] = "approximate"
    assert "Averaging" not in summary_line(report)


def test_report_needs_a_group_and_takes_group_objects():
    from softeq.groups import get
    from softeq.metrics import symmetry_report
    from softeq.reps import parse

    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
    model = torch.nn.Linear(20, 9)
    x, y = torch.randn(40, 20), torch.randn(40, 9)
    with pytest.raises(ValueError, match="at least one candidate group"):
        symmetry_report(model, rep_in, rep_out, [], x, y=y)
    report = symmetry_report(model, rep_in, rep_out, [G, "O2z"], x, y=y)
    assert report["mse"] > 0
    assert {g["name"] for g in report["groups"]} == {"O3", "O2z"}
