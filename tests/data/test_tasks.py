"""Tests for the built-in tasks, the `Task` record and the registry."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import torch

from softeq.data import (
    Task,
    cossim,
    emlp_inertia,
    get_task,
    inertia,
    inertia_tensor,
    o5_synthetic,
    particle_interaction,
    task_names,
    with_measured_truth,
)
from softeq.metrics import BREAKING_THRESHOLDS, verdict
from softeq.testing import TOL

# Exactly equivariant targets are checked in float64 at the tolerance for data
# transforms; broken or approximate symmetries must be far above round-off.
EXACT = TOL["model"][torch.float64]
BROKEN = 1e-3
SPLITS = ("train", "val", "test")
INERTIA_SETTINGS = ["o3", "o2x", "o2y", "o2z", "mixed", "broken", "rpp"]
COSSIM_SETTINGS = ["so3-scale", "so3", "scale", "none"]
SUITE = ["emlp-inertia", "o5-synthetic", "particle-interaction"]
# Synthetic specs (with a ground truth); the motion tasks are tested in test_mocap.py,
# test_planet_orbits.py and test_motion.py.
SYNTHETIC = [s for s in task_names() if s.split(":")[0] not in ("mocap", "orbits")]


def pooled(task: Task) -> torch.Tensor:
    """All rows of all splits, sorted lexicographically."""
    return torch.unique(torch.cat([task.x_train, task.x_val, task.x_test]), dim=0)


@pytest.mark.parametrize("spec", SYNTHETIC)
def test_shapes_and_dtypes(spec):
    task = get_task(spec)
    rep_in, rep_out = task.reps()
    for split in SPLITS:
        x, y = getattr(task, f"x_{split}"), getattr(task, f"y_{split}")
        assert x.dtype == y.dtype == torch.float32
        assert x.shape == (len(x), rep_in.dim) and y.shape == (len(x), rep_out.dim)
        assert torch.isfinite(x).all() and torch.isfinite(y).all()
    emlp_suite = spec.split(":")[0] in ("emlp-inertia", "o5-synthetic",
                                        "particle-interaction")  # fmt: skip
    assert task.sizes[1:] == ((1000, 5000) if emlp_suite else (1000, 1000))
    assert set(task.truth) == set(task.groups)


@pytest.mark.parametrize("spec", SYNTHETIC)
def test_truth_table_matches_measured_true_errors(spec):
    task = get_task(spec)
    errors = task.true_errors(generator=torch.Generator().manual_seed(1))
    for group_name, label in task.truth.items():
        if label == "exact":
            assert errors[group_name] < EXACT, (group_name, errors)
        else:
            assert errors[group_name] > BROKEN, (group_name, errors)


@pytest.mark.parametrize("spec", SYNTHETIC)
def test_truth_is_the_verdict_of_the_measured_breaking(spec):
    # the label of every candidate is the report's verdict rule applied to the
    # ground truth's own breaking, on this split and on another seed's
    task = get_task(spec)
    assert set(task.true_breaking) == set(task.groups)
    for name, b in task.true_breaking.items():
        assert task.truth[name] == verdict(b, BREAKING_THRESHOLDS)
        if task.truth[name] == "exact":
            assert abs(b) < 1e-9  # exact to round-off, not merely below 1 %
    assert get_task(spec, seed=1).truth == task.truth
    assert f"({task.true_breaking[task.groups[0]]:.3f})" in task.describe()


def test_a_measured_truth_needs_a_true_function():
    task = get_task("inertia:o2z")
    with pytest.raises(ValueError, match="no true_fn"):
        with_measured_truth(dataclasses.replace(task, true_fn=None))


@pytest.mark.parametrize("spec", SYNTHETIC)
def test_targets_are_true_fn_of_inputs(spec):
    task = get_task(spec)
    y = task.true_fn(task.x_val.double())
    rel = (y - task.y_val.double()).norm(dim=-1) / y.norm(dim=-1)
    assert rel.max() < TOL["model"][torch.float32]  # float32 rounding of y only
    assert task.true_fn(task.x_val).dtype == torch.float32


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("o3", {"O3": "exact", "O2x": "exact", "O2y": "exact", "O2z": "exact"}),
        ("o2z", {"O3": "broken", "O2x": "broken", "O2y": "broken", "O2z": "exact"}),
        ("o2x", {"O3": "broken", "O2x": "exact", "O2y": "broken", "O2z": "broken"}),
        ("mixed", dict.fromkeys(["O3", "O2x", "O2y", "O2z"], "approximate")),
        ("broken", dict.fromkeys(["O3", "O2x", "O2y", "O2z"], "broken")),
        (
            "rpp",
            {"O3": "approximate", "O2x": "approximate", "O2y": "approximate",
             "O2z": "exact"},
        ),
    ],
)  # fmt: skip
def test_inertia_truth_table(setting, expected):
    task = inertia(setting)
    assert task.groups == ("O3", "O2x", "O2y", "O2z")
    assert task.truth == expected
    assert (task.rep_in, task.rep_out) == ("5*V0+5*V", "V2")


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("so3-scale", ("exact", "exact", "exact")),
        ("so3", ("broken", "exact", "broken")),
        # measured, not chosen: the rotations break c - phi by 3 % and
        # c - rho + phi by 2 % of Var(y), less than inertia's approximate groups
        ("scale", ("approximate", "approximate", "exact")),
        ("none", ("broken", "approximate", "broken")),
    ],
)
def test_cossim_truth_table(setting, expected):
    task = cossim(setting)
    assert task.groups == ("SO3xScale3", "SO3", "Scale3")
    assert tuple(task.truth[g] for g in task.groups) == expected


def test_inertia_tensor_textbook_example():
    # Mass 2 at (1,0,0): 2 diag(0,1,1). Mass 1 at (0,1,1): 2 I - r r^T.
    x = torch.zeros(1, 20, dtype=torch.float64)
    x[0, :2] = torch.tensor([2.0, 1.0])
    x[0, 5:8] = torch.tensor([1.0, 0.0, 0.0])
    x[0, 8:11] = torch.tensor([0.0, 1.0, 1.0])
    expected = torch.tensor([[2.0, 0, 0], [0, 3, -1], [0, -1, 3]], dtype=torch.float64)
    assert torch.equal(inertia_tensor(x)[0], expected)
    assert torch.equal(inertia("o3").true_fn(x), expected.reshape(1, 9))


def test_inertia_targets_match_loop_over_particles():
    task = inertia("o3")
    x = task.x_train[:4].double()
    for row, y in zip(x, task.y_train[:4].double(), strict=True):
        masses, positions = row[:5], row[5:].reshape(5, 3)
        eye = torch.eye(3, dtype=torch.float64)
        ref = sum(
            m * (r @ r * eye - torch.outer(r, r))
            for m, r in zip(masses, positions, strict=True)
        )
        torch.testing.assert_close(y, ref.reshape(9), rtol=1e-6, atol=1e-6)
    assert (task.x_train[:, :5] > 0).all()  # softplus masses


def test_modified_inertia_scales_columns():
    x = inertia("o3").x_val[:8].double()
    base = inertia("o3").true_fn(x).reshape(-1, 3, 3)
    mixed = inertia("mixed").true_fn(x).reshape(-1, 3, 3)
    d = torch.tensor([1.3, 0.7, 1.0], dtype=torch.float64)
    torch.testing.assert_close(mixed, base @ torch.diag(d))


@pytest.mark.parametrize("build", [inertia, cossim], ids=["inertia", "cossim"])
def test_seed_changes_split_not_pool(build):
    setting = "o2z" if build is inertia else "so3"
    a, b, c = build(setting, seed=0), build(setting, seed=0), build(setting, seed=1)
    for split in SPLITS:
        assert torch.equal(getattr(a, f"x_{split}"), getattr(b, f"x_{split}"))
        assert torch.equal(getattr(a, f"y_{split}"), getattr(b, f"y_{split}"))
    assert not torch.equal(a.x_train, c.x_train)
    assert torch.equal(pooled(a), pooled(c))


@pytest.mark.parametrize(
    "build",
    [emlp_inertia, o5_synthetic, particle_interaction],
    ids=SUITE,
)
def test_suite_determinism_and_nested_training_sets(build):
    small, again, large = build(1000), build(1000), build(3000)
    assert torch.equal(small.x_train, again.x_train)
    assert torch.equal(small.y_test, again.y_test)
    assert torch.equal(large.x_train[:1000], small.x_train)
    assert torch.equal(large.x_val, small.x_val)
    assert large.sizes == (3000, 1000, 5000)
    assert not torch.equal(build(1000, seed=1).x_train, small.x_train)


def test_suite_tasks_draw_independent_streams():
    assert not torch.equal(
        o5_synthetic().x_val[:, :4], particle_interaction().x_val[:, :4] * 4
    )


@pytest.mark.parametrize("build", [emlp_inertia, o5_synthetic, particle_interaction])
@pytest.mark.parametrize("n_train", [0, 2000, True, "1000"])
def test_suite_rejects_other_training_sizes(build, n_train):
    with pytest.raises(ValueError, match="n_train must be one of"):
        build(n_train)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        inertia("o3", seed=bad)


def test_unknown_settings():
    with pytest.raises(ValueError, match="unknown inertia setting 'o4'.*'o2z'"):
        inertia("o4")
    with pytest.raises(ValueError, match="unknown cossim setting"):
        cossim("so2")


def test_true_errors_need_true_fn():
    task = inertia("o3")
    fields = {f"{xy}_{s}": getattr(task, f"{xy}_{s}") for xy in "xy" for s in SPLITS}
    blind = Task(
        "blind", task.rep_in, task.rep_out, ("O3",), {"O3": "unknown"}, **fields
    )
    with pytest.raises(ValueError, match="'blind' has no true_fn"):
        blind.true_errors()


def test_task_validates_truth_and_shapes():
    task = inertia("o3")
    fields = {f"{xy}_{s}": getattr(task, f"{xy}_{s}") for xy in "xy" for s in SPLITS}
    with pytest.raises(ValueError, match="truth must label exactly the groups"):
        Task("t", task.rep_in, task.rep_out, ("O3", "O2z"), {"O3": "exact"}, **fields)
    with pytest.raises(ValueError, match="truth labels must be one of"):
        Task("t", task.rep_in, task.rep_out, ("O3",), {"O3": "maybe"}, **fields)
    with pytest.raises(ValueError, match=r"train split must be x \('n', 20\)"):
        Task("t", task.rep_in, "V", ("O3",), {"O3": "exact"}, **fields)


def test_describe_is_one_line():
    text = get_task("inertia:o2z").describe()
    assert "\n" not in text
    assert text.startswith("inertia:o2z: 5*V0+5*V -> V2, train/val/test 1000/1000/1000")
    assert "O2z=exact" in text


def test_reps_default_to_first_group():
    rep_in, rep_out = get_task("cossim:so3").reps()
    assert rep_in.group.name == "SO3xScale3" and rep_in.dim == 9 and rep_out.dim == 1
    assert get_task("cossim:so3").reps("O3")[0].group.name == "O3"


def test_true_fn_pickles():
    task = get_task("inertia:rpp")
    restored = pickle.loads(pickle.dumps(task.true_fn))
    assert torch.equal(restored(task.x_val), task.true_fn(task.x_val))


def test_registry_names():
    names = task_names()
    assert "inertia:o2z" in names and "cossim:so3-scale" in names
    assert {"emlp-inertia", "o5-synthetic:3000", "particle-interaction:1000"} <= set(
        names
    )
    assert {"mocap", "mocap:scale-aware", "orbits", "orbits:rotated"} <= set(names)
    assert {"mocap:residual", "orbits:residual"} <= set(names)
    assert len(names) == len(set(names)) == 7 + 4 + 3 * 3 + 3 + 4


@pytest.mark.parametrize(
    ("spec", "n_train", "name", "n"),
    [
        ("emlp-inertia", None, "emlp-inertia:1000", 1000),
        ("o5-synthetic:3000", None, "o5-synthetic:3000", 3000),
        ("particle-interaction", 3000, "particle-interaction:3000", 3000),
        ("inertia:o2z", None, "inertia:o2z", 1000),
        ("cossim:so3-scale", 1000, "cossim:so3-scale", 1000),
    ],
)
def test_get_task(spec, n_train, name, n):
    task = get_task(spec, n_train=n_train)
    assert task.name == name and task.sizes[0] == n


@pytest.mark.parametrize(
    ("spec", "kwargs", "match"),
    [
        ("inertia", {}, "unknown task 'inertia'; expected one of: inertia:o3"),
        ("inertia:o4", {}, "unknown task"),
        ("o5-synthetic:2000", {}, "unknown task"),
        ("o5-synthetic:", {}, "unknown task"),
        ("mnist", {}, "unknown task.*particle-interaction:3000"),
        (3, {}, "unknown task"),
        ("o5-synthetic:1000", {"n_train": 3000}, "give it once"),
        ("o5-synthetic", {"n_train": 2000}, "n_train must be one of"),
        ("inertia:o3", {"n_train": 3000}, "fixed 1000/1000/1000 split"),
    ],
)
def test_get_task_errors(spec, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_task(spec, **kwargs)


@pytest.mark.parametrize("build", [o5_synthetic, particle_interaction])
def test_suite_standardization_follows_emlp(build):
    task = build(1000)
    stats = task.standardization
    n_vectors = {"o5-synthetic:1000": 2, "particle-interaction:1000": 4}[task.name]
    width = task.x_train.shape[1] // n_vectors
    per_vector = task.x_train.double().reshape(-1, n_vectors, width)
    rms = per_vector.square().mean((0, 2)).sqrt().float()
    # one scale per vector, spread over its coordinates (commutes with rho(g))
    assert torch.allclose(stats.x_scale, rms.repeat_interleave(width), rtol=1e-5)
    assert torch.allclose(stats.y_mean, task.y_train.mean(0), rtol=1e-4, atol=1e-6)
    assert torch.allclose(stats.y_scale, task.y_train.std(0), rtol=1e-4)


def test_emlp_inertia_is_not_standardized():
    assert emlp_inertia(1000).standardization is None  # EMLP's stats are 0, 1, 0, 1


def test_emlp_standardization_refuses_non_scalar_outputs():
    from softeq.data import emlp_standardization
    from softeq.groups import O
    from softeq.reps import parse

    rep_in, rep_out = parse("2*V", O(3)), parse("V", O(3))
    with pytest.raises(ValueError, match="only for scalar outputs"):
        emlp_standardization(rep_in, rep_out, torch.randn(8, 6), torch.randn(8, 3))
