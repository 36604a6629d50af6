from __future__ import annotations

import math

import pytest
import torch

from softeq.basis import BlockProjector
from softeq.groups import get
from softeq.metrics import (
    BREAKING_THRESHOLDS,
    OUTSIDE_DATA_THRESHOLD,
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


def perturbed_o2z(generator, scale: float = 0.03):
    """`(f, model)`: an O(2)_z-equivariant linear map `f` and `f` plus a random
    linear map of size `scale` that respects nothing (a model exact by
    construction would be "constrained")."""
    f = o2z_linear(generator)
    W = scale * torch.randn(3, 4, dtype=torch.float64, generator=generator)
    return f, lambda v: f(v) + v @ W.T


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


def test_with_targets_verdicts_and_ranks_come_from_the_breaking(generator):
    # an O(2)_z map and targets it fits up to noise: the breaking is ~0 for O2z and
    # large for the groups the targets break, even though the verdict basis moves
    # from the model's equivariance error to the data's breaking
    # (the model adds a small map that respects nothing: a model exact by
    # construction would be "constrained", see below)
    f, model = perturbed_o2z(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(500, 4, dtype=torch.float64, generator=generator)
    y = f(x) + 0.1 * torch.randn(500, 3, dtype=torch.float64, generator=generator)
    report = symmetry_report(model, rep_in, rep_out, NAMES, x, y=y, true_fn=f)
    assert report["verdict_basis"] == "breaking"
    assert report["thresholds"] == BREAKING_THRESHOLDS
    first, *rest = report["groups"]
    assert first["name"] == "O2z" and first["verdict"] == "exact"
    assert abs(first["cost"]) < 0.2 and first["cost_stderr"] > 0
    assert first["breaking_low"] <= first["breaking"] <= first["breaking_high"]
    assert first["breaking_high"] < BREAKING_THRESHOLDS["exact"]
    assert first["to_decide"] is None and first["constrained"] is None
    assert first["true_breaking"] == pytest.approx(0.0, abs=1e-12)
    assert all(e["verdict"] == "broken" for e in rest)
    # Gaussian inputs: every rotation keeps them on the data (5 % by chance)
    assert all(e["outside_data"] < 0.15 for e in report["groups"])
    # the model is the truth here: the truth's breaking is the model's, noise aside
    for e in rest:
        assert e["breaking_low"] - 0.05 < e["true_breaking"] < e["breaking_high"] + 0.05
    values = [e["breaking"] for e in report["groups"]]
    assert values == sorted(values)
    md = render_markdown(report)
    assert "breaking [95 % interval]" in md.splitlines()[4]
    assert "Verdicts from the breaking" in md


@pytest.mark.parametrize(
    ("scale", "noise", "noted"), [(0.01, 0.005, False), (0.03, 0.5, True)]
)
def test_an_exact_verdict_of_a_model_that_leaves_much_unexplained_says_so(
    generator, scale, noise, noted
):
    """`unexplained` is the model's MSE over Var(y); where it is above the exact
    threshold while a group reads exact, the Markdown says what "exact" can mean
    then (a breaking in what the model does not fit cannot show)."""
    f, model = perturbed_o2z(generator, scale)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(1000, 4, dtype=torch.float64, generator=generator)
    y = f(x) + noise * torch.randn(1000, 3, dtype=torch.float64, generator=generator)
    report = symmetry_report(model, rep_in, rep_out, NAMES, x, y=y)
    variance = float((y - y.mean(0)).square().mean())
    assert report["unexplained"] == pytest.approx(report["mse"] / variance)
    assert (report["unexplained"] > BREAKING_THRESHOLDS["exact"]) == noted
    o2z = next(e for e in report["groups"] if e["name"] == "O2z")
    assert o2z["verdict"] == "exact"
    md = render_markdown(report)
    assert ("**Resolution**" in md) == noted
    if noted:
        line = next(x for x in md.splitlines() if "**Resolution**" in x)
        assert "O2z read exact" in line and f"{report['unexplained']:.1%}" in line


def test_too_little_evidence_is_undetermined_and_says_what_would_decide(generator):
    # the model is the truth (O2z exact) but the targets are mostly noise and few:
    # the interval of O2z's breaking straddles the exact threshold whatever the
    # budget, so the verdict is "undetermined", not "exact", and the report says
    # how many inputs (or how much better a model) would decide it
    f, model = perturbed_o2z(generator, 0.3)  # fits poorly, respects nothing
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(60, 4, dtype=torch.float64, generator=generator)
    y = f(x) + 3.0 * torch.randn(60, 3, dtype=torch.float64, generator=generator)
    report = symmetry_report(model, rep_in, rep_out, ["O2z"], x, y=y, n_samples=4,
                             max_samples=16, start_inputs=30)  # fmt: skip
    (entry,) = report["groups"]
    assert entry["verdict"] == "undetermined"
    assert entry["breaking_low"] < BREAKING_THRESHOLDS["exact"] < entry["breaking_high"]
    # measured on the first budget or, where predicted to decide, the whole one
    assert (entry["n_inputs"], entry["n_samples"]) in ((30, 4), (60, 16))
    assert f"held-out inputs (measured on {entry['n_inputs']})" in entry["to_decide"]
    assert "a model that fits better" in entry["to_decide"]
    md = render_markdown(report)
    assert "**Undetermined:** O2z." in md
    assert "- **O2z** is undetermined: about" in md


def test_the_budget_is_raised_where_that_decides(generator):
    # two group elements leave the interval of a clearly broken group wide (the
    # breaking varies from element to element); the whole budget decides it
    f, model = perturbed_o2z(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(1000, 4, dtype=torch.float64, generator=generator)
    kwargs = {"y": f(x), "n_samples": 2, "start_inputs": 1000}
    first = symmetry_report(model, rep_in, rep_out, ["O2x"], x, max_samples=2,
                            **kwargs)["groups"][0]  # fmt: skip
    assert first["verdict"] == "undetermined" and first["n_samples"] == 2
    raised = symmetry_report(model, rep_in, rep_out, ["O2x"], x, max_samples=64,
                             **kwargs)["groups"][0]  # fmt: skip
    assert raised["verdict"] == "broken" and raised["n_samples"] == 64
    assert raised["breaking_high"] - raised["breaking_low"] < (
        first["breaking_high"] - first["breaking_low"]
    )


def _augmented_linear(
    group: str, generator, diag: tuple[float, ...] = (1.0, 1.0, 0.0)
) -> torch.nn.Module:
    """A linear map V -> V fitted to y = Dx with augmentation by `group` (by
    default D = diag(1, 1, 0): O(2)_z exact, O(2)_x broken)."""
    from softeq.regularizers import GroupAugmentation

    rep = parse("V", get("O3"))
    D = torch.diag(torch.tensor(diag, dtype=torch.float64))
    inner = torch.nn.Linear(3, 3, bias=False).double()
    model = GroupAugmentation(inner, group, rep, rep, generator=generator)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        x = torch.randn(256, 3, dtype=torch.float64, generator=generator)
        loss = (model(x) - x @ D).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_a_model_trained_to_respect_a_broken_group_never_calls_it_exact(generator):
    # augmentation by O(3) makes the model nearly O(3)-equivariant, so its breaking
    # for O3 and its subgroup O2x reads ~0 though the data break both (by about a
    # quarter of their variance). The report knows the model is constrained and
    # says "undetermined"; the same weights without the wrapper (nothing declared)
    # read the data as nearly symmetric (never "broken", the truth): the failure
    # this guards against.
    model = _augmented_linear("O3", generator)
    rep = parse("V", get("O3"))
    D = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
    x = torch.randn(2000, 3, dtype=torch.float64, generator=generator)
    truth = lambda v: v @ D  # noqa: E731
    report = symmetry_report(model, rep, rep, ["O3", "O2x"], x, y=truth(x),
                             true_fn=truth)  # fmt: skip
    entries = {e["name"]: e for e in report["groups"]}
    assert all(e["true_breaking"] > 0.2 for e in entries.values())
    assert all(e["verdict"] == "undetermined" for e in entries.values())
    assert entries["O3"]["constrained"] == "trained with augmentation by O3"
    assert entries["O2x"]["constrained"] == (
        "trained with augmentation by O3, which contains O2x"
    )
    assert "for O2x is no evidence about the data" in entries["O2x"]["to_decide"]
    naive = symmetry_report(model.model, rep, rep, ["O3", "O2x"], x, y=truth(x))
    for e in naive["groups"]:
        assert e["verdict"] != "broken" and e["breaking_high"] < 0.1


def test_a_constraint_toward_another_group_is_no_evidence_either(generator):
    # targets y = diag(1.3, 0.7, 1) x break every candidate (O3 by a sixth of
    # their variance); a model trained with augmentation by O(2)_z fits their
    # O(2)_z average, diag(1, 1, 1) x, which respects O(3): read naively, O3 looks
    # exact. O3 does not lie inside O(2)_z, yet the report says "undetermined".
    model = _augmented_linear("O2z", generator, (1.3, 0.7, 1.0))
    rep = parse("V", get("O3"))
    D = torch.diag(torch.tensor([1.3, 0.7, 1.0], dtype=torch.float64))
    x = torch.randn(2000, 3, dtype=torch.float64, generator=generator)
    truth = lambda v: v @ D  # noqa: E731
    naive = symmetry_report(model.model, rep, rep, ["O3"], x, y=truth(x),
                            true_fn=truth)  # fmt: skip
    (entry,) = naive["groups"]
    assert entry["true_breaking"] > 0.05 and entry["breaking_high"] < 0.02
    (entry,) = symmetry_report(model, rep, rep, ["O3"], x, y=truth(x))["groups"]
    assert entry["verdict"] == "undetermined"
    assert entry["constrained"].startswith("trained with augmentation by O2z: ")


def test_given_constraints_count_and_a_shown_breaking_stands(generator):
    # a constraint given by the caller counts like a declared one; a group the
    # model breaks plainly despite a constraint keeps its "broken" verdict (the
    # constrained model still shows it)
    f, model = perturbed_o2z(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(500, 4, dtype=torch.float64, generator=generator)
    told = [("O2x", "told so"), ("O2z", "told so")]
    given = symmetry_report(model, rep_in, rep_out, ["O2x", "O2z"], x, y=f(x),
                            constraints=told)  # fmt: skip
    entries = {e["name"]: e for e in given["groups"]}
    assert entries["O2z"]["constrained"] == "told so"
    assert entries["O2z"]["verdict"] == "undetermined"
    assert entries["O2x"]["constrained"] == "told so"
    assert entries["O2x"]["verdict"] == "broken" and entries["O2x"]["to_decide"] is None
    assert "- **O2x**: told so; broken despite the constraint." in render_markdown(
        given
    )


def test_a_model_exact_by_construction_is_constrained_without_a_declaration(generator):
    # a plain callable, no modules to declare anything, equivariant to O2z to
    # round-off: its own equivariance error marks it constrained; an EMLP
    # declares it
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(200, 4, dtype=torch.float64, generator=generator)
    report = symmetry_report(f, rep_in, rep_out, ["O2z"], x, y=f(x) + 0.1)
    (entry,) = report["groups"]
    assert entry["verdict"] == "undetermined"
    assert entry["constrained"].startswith("its own equivariance error is")
    from softeq.nn.models import EMLP

    emlp = EMLP(rep_in, rep_out, "O2z", ch=8, num_layers=1).double()
    y = emlp(x).detach() + 0.1 * torch.randn(200, 3, dtype=torch.float64,
                                              generator=generator)  # fmt: skip
    (entry,) = symmetry_report(emlp, rep_in, rep_out, ["O2z"], x, y=y)["groups"]
    assert entry["verdict"] == "undetermined"
    assert entry["constrained"] == "hard-equivariant to O2z (EMLP)"


def test_without_targets_there_is_no_cost(generator):
    f = o2z_linear(generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    x = torch.randn(16, 4, dtype=torch.float64, generator=generator)
    report = symmetry_report(f, rep_in, rep_out, NAMES, x)
    assert report["verdict_basis"] == "equivariance_error"
    assert all(e["cost"] is None and e["breaking"] is None for e in report["groups"])
    assert "cost" not in render_markdown(report).splitlines()[4]


def test_summary_says_what_averaging_over_the_exact_group_does():
    report = {
        "verdict_basis": "breaking",
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


def test_a_breaking_read_outside_the_data_judges_nothing(generator):
    # inputs (s, v) with v in the plane z = 0 and O(3)-equivariant targets s v: a
    # model that fits them on the plane but extrapolates badly off it reads a large
    # breaking for every group that tips the plane; that is the model, not the data
    n = 600
    s = torch.rand(n, 1, dtype=torch.float64, generator=generator) + 0.5
    v = torch.randn(n, 3, dtype=torch.float64, generator=generator)
    v[:, 2] = 0
    x = torch.cat([s, v], 1)
    truth = lambda x: x[:, :1] * x[:, 1:]  # noqa: E731
    W = 0.03 * torch.randn(3, 4, dtype=torch.float64, generator=generator)
    ones = torch.ones(1, 3, dtype=torch.float64)
    model = lambda x: truth(x) + 5 * x[:, 3:4] * ones + x @ W.T  # noqa: E731
    y = truth(x) + 0.05 * torch.randn(n, 3, dtype=torch.float64, generator=generator)
    rep_in, rep_out = parse("V0+V", get("O3")), parse("V", get("O3"))
    report = symmetry_report(model, rep_in, rep_out, NAMES, x, y=y)
    entries = {e["name"]: e for e in report["groups"]}
    assert entries["O2z"]["verdict"] == "exact"  # turning keeps the plane
    assert entries["O2z"]["outside_data"] < 0.15
    for name in ("O3", "O2x", "O2y"):
        e = entries[name]
        assert e["breaking_low"] > BREAKING_THRESHOLDS["broken"]  # reads broken...
        assert e["outside_data"] > OUTSIDE_DATA_THRESHOLD  # ...off the data
        assert e["verdict"] == "undetermined"
        assert "outside the data" in e["to_decide"]
    md = render_markdown(report)
    assert "| outside data |" in md.splitlines()[4]
    # every undetermined group off the data says so, whatever its interval
    assert all("outside the data" in e["to_decide"] for e in report["groups"]
               if e["verdict"] == "undetermined")  # fmt: skip
    assert (
        f"**O2x** is undetermined: O2x moves {entries['O2x']['outside_data']:.0%}" in md
    )
    # a model that extrapolates equivariantly reads no breaking off the data
    # either, and that is no evidence the data respect the groups
    smooth = lambda x: truth(x) + x @ W.T  # noqa: E731
    report = symmetry_report(smooth, rep_in, rep_out, NAMES, x, y=y)
    entries = {e["name"]: e for e in report["groups"]}
    assert entries["O2z"]["verdict"] == "exact"
    for name in ("O3", "O2x", "O2y"):
        e = entries[name]
        assert e["breaking_high"] < BREAKING_THRESHOLDS["exact"]  # reads exact...
        assert e["verdict"] == "undetermined" and "outside the data" in e["to_decide"]
