"""Tests for the motion protocol: layout, centring, normalisation, ADE/FDE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from softeq.data import (
    MotionData,
    MotionMetrics,
    ade,
    fde,
    get_task,
    load_motion,
    motion_task,
)
from softeq.data import constant_velocity as cv
from softeq.data._motion import random_orthogonal
from softeq.testing import TOL

N, T, K = 12, 6, 2
SPLIT = [0] * 6 + [1] * 3 + [2] * 3


def arrays(generator: torch.Generator | None = None) -> dict[str, object]:
    """Twelve windows of two points moving with random velocities."""
    gen = generator or torch.Generator().manual_seed(0)
    start = torch.randn(N, 1, K, 3, generator=gen, dtype=torch.float64) * 5
    velocity = torch.randn(N, 1, K, 3, generator=gen, dtype=torch.float64)
    t = torch.arange(2 * T, dtype=torch.float64)[None, :, None, None]
    track = (start + t * velocity).numpy().astype(np.float32)
    return {"past": track[:, :T], "future": track[:, T:], "split": SPLIT,
            "units": "m", "dt": 0.2, "vertical_axis": 2}  # fmt: skip


def test_task_layout_and_splits():
    data = arrays()
    task = motion_task(data, name="toy")
    assert task.name == "toy" and task.rep_in == task.rep_out == f"{T * K}*V"
    assert task.sizes == (6, 3, 3)
    assert task.x_train.dtype == torch.float32
    assert set(task.truth.values()) == {"unknown"}
    assert task.groups == ("O3", "O2x", "O2y", "O2z")
    # rows keep their order within a split: the val rows are windows 6, 7, 8
    past = torch.as_tensor(data["past"], dtype=torch.float64)
    centred = past - past.mean(dim=(1, 2), keepdim=True)
    scale = task.metrics.scale[0]
    expected = (centred[6:9] / scale).reshape(3, -1)
    assert torch.allclose(task.x_val.double(), expected, atol=1e-6)


def test_flattening_is_time_major_then_point_then_xyz():
    data = arrays()
    task = motion_task(data)
    past = np.asarray(data["past"], dtype=np.float64)
    centred = past - past.mean(axis=(1, 2), keepdims=True)
    t, k, axis = 4, 1, 2
    column = (t * K + k) * 3 + axis
    scale = float(task.metrics.scale[0])
    assert task.x_train[0, column].item() == pytest.approx(
        centred[0, t, k, axis] / scale
    )


def test_centring_uses_the_past_only():
    data = arrays()
    moved = dict(data)
    moved["future"] = np.asarray(data["future"]) + np.float32(100.0)
    a, b = motion_task(data), motion_task(moved)
    for split in ("train", "val", "test"):  # the train futures moved too
        assert torch.equal(getattr(a, f"x_{split}"), getattr(b, f"x_{split}"))
    assert not torch.equal(a.y_test, b.y_test)


def test_parity_centring_leaks_the_future():
    data = arrays()
    moved = dict(data)
    moved["future"] = np.asarray(data["future"]) + np.float32(100.0)
    a = motion_task(data, centring="all-points-parity")
    b = motion_task(moved, centring="all-points-parity")
    assert not torch.equal(a.x_test, b.x_test)
    # all-points centring: past and future sum to zero per window and axis
    x = a.x_train.double().reshape(6, T * K, 3)
    y = a.y_train.double().reshape(6, T * K, 3)
    assert torch.allclose((x + y).sum(1), torch.zeros(6, 3).double(), atol=1e-5)


def test_symmetry_aware_normalisation_commutes_with_rotation(generator):
    data = arrays()
    g = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))[0]
    rotated = dict(data)
    for key in ("past", "future"):
        rotated[key] = (torch.as_tensor(data[key]).double() @ g.T).numpy()
    a, b = motion_task(data), motion_task(rotated)
    assert torch.allclose(a.metrics.scale, b.metrics.scale, rtol=1e-6)
    for split in ("train", "test"):
        for xy in "xy":
            plain = getattr(a, f"{xy}_{split}").double().reshape(-1, 3)
            turned = getattr(b, f"{xy}_{split}").double().reshape(-1, 3)
            err = (plain @ g.T - turned).norm() / (plain.norm() + turned.norm())
            assert err < TOL["model"][torch.float32]


def test_scale_aware_normalisation_is_per_axis():
    data = arrays()
    for key in ("past", "future"):
        data[key] = np.asarray(data[key]) * np.array([1.0, 1.0, 0.01], np.float32)
    task = motion_task(data, normalisation="scale-aware")
    x = task.x_train.double().reshape(-1, 3)  # the scale comes from train pasts
    assert torch.allclose(x.square().mean(0), torch.ones(3, dtype=torch.float64))
    assert task.metrics.scale[2] < 0.05 * task.metrics.scale[0]
    iso = motion_task(data)
    scales = iso.metrics.scale
    assert scales[0] == scales[1] == scales[2]


def test_metrics_undo_the_normalisation():
    data = arrays()
    task = motion_task(data, normalisation="scale-aware")
    shift = torch.zeros_like(task.y_test).reshape(3, T, K, 3)
    shift[..., 0] = 0.3 / task.metrics.scale[0]  # 0.3 m along x in physical units
    shift[:, -1, :, 0] = 0.6 / task.metrics.scale[0]  # 0.6 m at the last step
    metrics = task.metrics(task.y_test + shift.reshape(3, -1), task.y_test)
    assert metrics["ade"] == pytest.approx((5 * 0.3 + 0.6) / 6, rel=1e-5)
    assert metrics["fde"] == pytest.approx(0.6, rel=1e-5)


def test_ade_fde_hand_computed():
    prediction = torch.zeros(2, 2, 1, 3)
    target = torch.zeros(2, 2, 1, 3)
    target[0, 0, 0] = torch.tensor([3.0, 4.0, 0.0])  # error 5 at step 0
    target[0, 1, 0] = torch.tensor([0.0, 0.0, 2.0])  # error 2 at the last step
    target[1, 1, 0] = torch.tensor([1.0, 2.0, 2.0])  # error 3 at the last step
    assert float(ade(prediction, target)) == pytest.approx((5 + 2 + 0 + 3) / 4)
    assert float(fde(prediction, target)) == pytest.approx((2 + 3) / 2)


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((2, 6, 1, 3), (2, 6, 1, 2)), "same shape"),
        (((2, 6, 1, 2), (2, 6, 1, 2)), "3-D positions"),
        (((6, 3), (6, 3)), "same shape"),
    ],
    ids=["mismatch", "not-3d", "too-few-dims"],
)
def test_ade_fde_reject_bad_shapes(shapes, match):
    a, b = (torch.zeros(s) for s in shapes)
    for metric in (ade, fde):
        with pytest.raises(ValueError, match=match):
            metric(a, b)


def test_motion_metrics_reject_wrong_width():
    metrics = MotionMetrics(torch.ones(3), n_steps=6, n_points=2, units="m", dt=0.1)
    with pytest.raises(ValueError, match=r"expect \(n, 36\)"):
        metrics(torch.zeros(4, 35), torch.zeros(4, 35))


def test_save_and_load_round_trip(tmp_path):
    data = MotionData(**arrays(), names=("a", "b"))
    data.save(tmp_path / "toy.npz")
    loaded = load_motion(tmp_path / "toy.npz")
    assert np.array_equal(loaded.past, data.past)
    assert np.array_equal(loaded.future, data.future)
    assert loaded.split.dtype == np.int8 and np.array_equal(loaded.split, data.split)
    assert (loaded.units, loaded.dt, loaded.vertical_axis, loaded.names) == (
        "m", 0.2, 2, ("a", "b"),
    )  # fmt: skip
    task = motion_task(tmp_path / "toy.npz")
    assert task.name == "motion:toy.npz" and task.metrics.units == "m"
    assert math.isclose(task.metrics.dt, 0.2)


def test_motion_task_is_deterministic():
    a, b = (
        motion_task(arrays(), rotate_test=True),
        motion_task(arrays(), rotate_test=True),
    )
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)


def _with(**changes: object) -> dict[str, object]:
    data = arrays()
    data.update(changes)
    return data


def _nan_past() -> np.ndarray:
    past = np.array(arrays()["past"])
    past[3, 2, 1, 0] = np.nan
    return past


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            _with(past=np.zeros((N, T, K))),
            r"past must have shape \(n, steps, points, 3\)",
        ),
        (_with(future=np.zeros((N, T, K, 2))), r"future must have shape"),
        (_with(future=np.zeros((N - 1, T, K, 3))), "future must have the n=12"),
        (_with(future=np.zeros((N, T, K + 1, 3))), "k=2 points"),
        (_with(past=_nan_past()), "past contains NaN or inf"),
        (_with(split=[0] * N), "every split non-empty"),
        (_with(split=[0] * 6 + [1] * 3 + [3] * 3), r"0 \(train\), 1 \(val\) or 2"),
        (_with(split=[0] * 5), r"split must be integers of shape \(12,\)"),
        (_with(split=[0.0] * N), "split must be integers"),
        (_with(dt=0.0), "dt must be seconds per step, finite and > 0"),
        (_with(vertical_axis=3), "vertical_axis must be 0, 1, 2 or -1"),
        (_with(units=""), "units must be a non-empty str"),
        (_with(names=("a",)), "names must name the 2 points"),
        ({"past": np.zeros((N, T, K, 3))}, "missing .*'future'"),
    ],
    ids=[
        "past-3d",
        "future-2d-points",
        "n-mismatch",
        "k-mismatch",
        "nan",
        "no-val",
        "bad-code",
        "split-length",
        "split-float",
        "dt",
        "axis",
        "units",
        "names",
        "missing-key",
    ],  # fmt: skip
)
def test_bad_data_raises(data, match):
    with pytest.raises(ValueError, match=match):
        motion_task(data)


def test_bad_options_raise(tmp_path):
    with pytest.raises(ValueError, match="normalisation must be one of"):
        motion_task(arrays(), normalisation="per-axis")
    with pytest.raises(ValueError, match="centring must be one of"):
        motion_task(arrays(), centring="all")
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        motion_task(arrays(), seed=-1)
    with pytest.raises(ValueError, match="no such file"):
        motion_task(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="source must be a .npz path"):
        motion_task(42)
    still = arrays()
    still["past"] = still["future"] = np.ones((N, T, K, 3), np.float32)
    with pytest.raises(ValueError, match="zero spread"):
        motion_task(still)


def test_pickled_npz_is_refused(tmp_path):
    data = arrays()
    data["units"] = np.array(["m"], dtype=object)
    np.savez(tmp_path / "pickled.npz", **data)
    with pytest.raises(ValueError, match=r"load_motion\(pickled.npz\)"):
        load_motion(tmp_path / "pickled.npz")


# --- target="residual": the residual to the constant-velocity forecast -----------


def curved(generator: torch.Generator | None = None) -> dict[str, object]:
    """`arrays` plus a random constant acceleration, so constant velocity errs."""
    gen = generator or torch.Generator().manual_seed(1)
    data = arrays(gen)
    accel = torch.randn(N, 1, K, 3, generator=gen, dtype=torch.float64) * 0.3
    t = torch.arange(2 * T, dtype=torch.float64)[None, :, None, None]
    bend = (0.5 * accel * t.square()).numpy().astype(np.float32)
    data["past"] = np.asarray(data["past"]) + bend[:, :T]
    data["future"] = np.asarray(data["future"]) + bend[:, T:]
    return data


def test_constant_velocity_by_hand():
    past = torch.tensor(
        [[[[5.0, 5.0, 5.0]]] * 4 + [[[1.0, 0.0, 2.0]], [[2.0, 1.0, 0.0]]]]
    )
    forecast = cv(past, 3)
    assert forecast.shape == (1, 3, 1, 3)
    expected = torch.tensor([[3.0, 2.0, -2.0], [4.0, 3.0, -4.0], [5.0, 4.0, -6.0]])
    assert torch.equal(forecast[0, :, 0], expected)


def test_residual_of_a_constant_velocity_motion_is_zero():
    task = motion_task(arrays(), target="residual")  # straight lines
    for split in ("train", "val", "test"):
        y = getattr(task, f"y_{split}")
        assert y.abs().max() < 1e-5 and y.shape == (len(y), T * K * 3)
    assert task.metrics.target == "residual"
    assert "target=residual" in repr(task.metrics)


@pytest.mark.parametrize("normalisation", ["symmetry-aware", "scale-aware"])
def test_residual_is_positions_minus_constant_velocity(normalisation):
    positions = motion_task(curved(), normalisation=normalisation)
    residual = motion_task(curved(), normalisation=normalisation, target="residual")
    assert torch.equal(positions.metrics.scale, residual.metrics.scale)
    for split in ("train", "val", "test"):
        x = getattr(positions, f"x_{split}")
        assert torch.equal(x, getattr(residual, f"x_{split}"))  # inputs unchanged
        # in normalised units: the per-axis scale commutes with the map
        past = x.double().reshape(len(x), T, K, 3)
        expected = getattr(positions, f"y_{split}").double() - cv(past, T).reshape(
            len(x), -1
        )
        got = getattr(residual, f"y_{split}").double()
        assert torch.allclose(got, expected, atol=1e-5)
    assert residual.y_train.abs().max() > 0.01


def test_residual_metrics_are_those_of_the_position_forecast(generator):
    positions = motion_task(curved())
    residual = motion_task(curved(), target="residual")
    past = positions.x_test.double().reshape(3, T, K, 3)
    forecast = cv(past, T).reshape(3, -1).float()
    zero = torch.zeros_like(residual.y_test)
    reference = positions.metrics(forecast, positions.y_test)
    assert reference["ade"] > 0.1
    for key, value in residual.metrics(zero, residual.y_test).items():
        assert value == pytest.approx(reference[key], rel=1e-5)
    # any residual prediction h: the forecast CV(x) + h has the same errors
    h = torch.randn(residual.y_test.shape, generator=generator)
    got, want = residual.metrics(h, residual.y_test), positions.metrics(
        forecast + h, positions.y_test
    )  # fmt: skip
    for key in ("ade", "fde"):
        assert got[key] == pytest.approx(want[key], rel=1e-5)


def test_constant_velocity_is_equivariant_and_translation_equivariant(generator):
    past = torch.randn(7, T, K, 3, generator=generator, dtype=torch.float64)
    gs = random_orthogonal(7, generator)[:, None, None]  # one g in O(3) per window

    def act(p):
        return (gs @ p.unsqueeze(-1)).squeeze(-1)

    assert torch.allclose(cv(act(past), 4), act(cv(past, 4)), atol=1e-12)
    assert (torch.linalg.det(gs.squeeze()) < 0).any()  # reflections are covered
    shift = torch.randn(7, 1, 1, 3, generator=generator, dtype=torch.float64)
    assert torch.allclose(cv(past + shift, 4), cv(past, 4) + shift, atol=1e-12)


def test_residual_targets_rotate_with_the_data(generator):
    data = curved()
    g = random_orthogonal(1, generator)[0]
    rotated = dict(data)
    for key in ("past", "future"):
        rotated[key] = (torch.as_tensor(data[key]).double() @ g.T).numpy()
    a = motion_task(data, target="residual")
    b = motion_task(rotated, target="residual")
    plain = a.y_train.double().reshape(-1, 3)
    turned = b.y_train.double().reshape(-1, 3)
    err = (plain @ g.T - turned).norm() / (plain.norm() + turned.norm())
    assert err < TOL["model"][torch.float32]


def test_residual_task_is_deterministic():
    a = motion_task(curved(), target="residual", rotate_test=True, seed=2)
    b = motion_task(curved(), target="residual", rotate_test=True, seed=2)
    for split in ("train", "val", "test"):
        for xy in "xy":
            key = f"{xy}_{split}"
            assert torch.equal(getattr(a, key), getattr(b, key))


def test_registered_residual_tasks():
    mocap, residual = get_task("mocap"), get_task("mocap:residual")
    assert residual.name == "mocap:residual" and residual.truth == mocap.truth
    assert torch.equal(mocap.x_test, residual.x_test)
    past = mocap.x_test.double().reshape(len(mocap.x_test), 6, 15, 3)
    forecast = cv(past, 6).reshape(len(past), -1).float()
    zero = residual.metrics(torch.zeros_like(residual.y_test), residual.y_test)
    assert zero["ade"] == pytest.approx(
        mocap.metrics(forecast, mocap.y_test)["ade"], rel=1e-5
    )
    assert 0.05 < zero["ade"] < 0.06  # constant velocity on mocap: 0.0545 m
    assert get_task("orbits:residual").name == "orbits:residual"


def test_bad_residual_options_raise():
    with pytest.raises(ValueError, match="target must be one of"):
        motion_task(arrays(), target="velocity")
    one_step = arrays()
    one_step["past"] = np.asarray(one_step["past"])[:, -1:]
    with pytest.raises(ValueError, match="at least 2 past steps"):
        motion_task(one_step, target="residual")
    with pytest.raises(ValueError, match=r"T_past >= 2, k, 3"):
        cv(torch.zeros(4, 1, 2, 3), 6)
    with pytest.raises(ValueError, match="n_future must be an int >= 1"):
        cv(torch.zeros(4, 6, 2, 3), 0)
    with pytest.raises(ValueError, match="target must be 'positions' or 'residual'"):
        MotionMetrics(torch.ones(3), n_steps=6, n_points=2, units="m", dt=0.1,
                      target="velocity")  # fmt: skip


def test_motion_file_spec_trains_on_your_own_npz(tmp_path):
    """``motion:PATH.npz[:options]`` is the motion protocol on a file of your own."""
    from softeq.data import get_task

    path = tmp_path / "my data.npz"
    MotionData(**arrays()).save(path)
    task = get_task(f"motion:{path}")
    assert (task.rep_in, task.rep_out) == (f"{T * K}*V", f"{T * K}*V")
    assert task.name == f"motion:{path}" and task.truth["O3"] == "unknown"
    direct = motion_task(path, target="residual", normalisation="scale-aware")
    both = get_task(f"motion:{path}:residual:scale-aware")
    assert torch.equal(both.y_train, direct.y_train)
    assert torch.equal(both.x_train, direct.x_train)
    for spec, match in [
        (f"motion:{tmp_path / 'missing.npz'}", "no such motion file"),
        (f"motion:{path}:rotated", "unknown option"),
        (f"motion:{path}residual", "unknown option"),
        ("motion:data.csv", "motion:PATH.npz"),
    ]:
        with pytest.raises(ValueError, match=match):
            get_task(spec)
    with pytest.raises(ValueError, match="split"):
        get_task(f"motion:{path}", n_train=5)
