"""Tests for the shipped ``orbits`` data set (JPL DE421) and its loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softeq.data import get_task, orbits, orbits_data
from softeq.data._planet_orbits import SPLIT_JD, orbits_windows
from softeq.data._sequences import read_dataset

SPAN = 12
BODIES = ["mercury", "venus", "earthmoon", "mars", "jupiter", "saturn", "uranus",
          "neptune", "pluto"]  # fmt: skip


@pytest.fixture(scope="module")
def plain():
    return orbits()


@pytest.fixture(scope="module")
def rotated():
    return orbits(rotate_test=True, seed=0)


def test_task_shapes_units_and_truth(plain):
    assert plain.name == "orbits" and plain.rep_in == plain.rep_out == "54*V"
    assert plain.sizes == (3642, 902, 902)
    assert plain.x_val.shape == (902, 162) and plain.y_val.dtype == torch.float32
    assert set(plain.truth.values()) == {"exact"}
    assert plain.metrics.units == "AU" and plain.metrics.dt == 10 * 86400.0
    assert orbits_data().names == tuple(BODIES)


def test_planets_are_where_they_should_be():
    arrays = read_dataset("orbits.npz")
    r = np.linalg.norm(arrays["positions"].astype(np.float64), axis=-1)  # AU
    mean = dict(zip(BODIES, r.mean(0), strict=True))
    assert mean["earthmoon"] == pytest.approx(1.0, abs=0.01)
    assert mean["jupiter"] == pytest.approx(5.20, abs=0.05)
    assert mean["neptune"] == pytest.approx(30.1, abs=0.3)
    # ecliptic axes: the Earth stays in the plane z = 0, Pluto leaves it (17 deg)
    z = np.abs(arrays["positions"][..., 2]) / r
    assert z[:, 2].max() < 1e-3 and 0.25 < z[:, 8].max() < 0.31
    assert float(arrays["step_days"]) == 10.0


def test_splits_are_contiguous_in_time_and_disjoint():
    arrays = read_dataset("orbits.npz")
    index = orbits_windows()
    jd = float(arrays["start_jd"]) + 10.0 * index["frame"]
    last = jd + 10.0 * (SPAN - 1)
    split = index["split"]
    assert np.array_equal(index["frame"], np.sort(index["frame"]))
    assert np.all(np.diff(split) >= 0)  # train, then val, then test, in time
    assert last[split == 0].max() < SPLIT_JD[0] <= jd[split == 1].min()
    assert last[split == 1].max() < SPLIT_JD[1] <= jd[split == 2].min()
    for code in range(3):
        frames = index["frame"][split == code]
        assert np.array_equal(frames, np.arange(frames[0], frames[-1] + 1))


def test_loading_is_deterministic(plain):
    again = get_task("orbits")
    assert torch.equal(plain.x_train, again.x_train)
    assert torch.equal(plain.y_test, again.y_test)


def _points(x: torch.Tensor) -> torch.Tensor:
    return x.double().reshape(len(x), -1, 3)


def test_rotated_test_split_is_rotated(plain, rotated):
    assert torch.equal(plain.x_train, rotated.x_train)
    assert torch.equal(plain.y_val, rotated.y_val)
    assert not torch.allclose(plain.x_test, rotated.x_test, atol=1e-2)
    for xy in "xy":
        a, b = (
            _points(getattr(plain, f"{xy}_test")),
            _points(getattr(rotated, f"{xy}_test")),
        )
        # every point keeps its norm: a rotation about the window's centre
        assert torch.allclose(a.norm(dim=-1), b.norm(dim=-1), rtol=1e-4, atol=1e-5)
    # past and future share one g per window: Gram matrices of all 12 x 9 points
    both = [
        torch.cat([_points(t.x_test[:100]), _points(t.y_test[:100])], 1)
        for t in (plain, rotated)
    ]
    gram = [p @ p.transpose(1, 2) for p in both]
    assert torch.allclose(gram[0], gram[1], atol=1e-4)


def test_rotations_are_orthogonal_of_both_signs(plain, rotated):
    a, b = _points(plain.x_test), _points(rotated.x_test)
    u, _, vh = torch.linalg.svd(b.transpose(1, 2) @ a)  # Procrustes: b ~ a g^T
    g = u @ vh
    assert torch.allclose(a @ g.transpose(1, 2), b, atol=1e-5)
    det = torch.linalg.det(g)
    assert (det > 0).any() and (det < 0).any()
    # out of distribution: the test windows leave the ecliptic
    assert b[..., 2].abs().mean() > 5 * a[..., 2].abs().mean()


def test_rotation_follows_the_seed(rotated):
    same, other = orbits(rotate_test=True, seed=0), get_task("orbits:rotated", seed=1)
    assert torch.equal(rotated.x_test, same.x_test)
    assert not torch.equal(rotated.x_test, other.x_test)
    assert other.name == "orbits:rotated"


def test_metrics_are_rotation_invariant(plain, rotated):
    zero = torch.zeros_like(plain.y_test)
    a, b = plain.metrics(zero, plain.y_test), rotated.metrics(zero, rotated.y_test)
    assert a["ade"] == pytest.approx(b["ade"], rel=1e-5)
    assert a["fde"] == pytest.approx(b["fde"], rel=1e-5)


def test_scale_aware_variant():
    task = get_task("orbits:scale-aware")
    scale = task.metrics.scale
    assert task.name == "orbits:scale-aware"
    assert scale[2] < 0.3 * scale[0]  # the orbits are flat: little spread along z
