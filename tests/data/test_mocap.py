"""Tests for the shipped ``mocap`` data set, its loader and its forward kinematics."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from softeq.data import get_task, mocap, mocap_data
from softeq.data._mocap import mocap_windows
from softeq.data._sequences import read_dataset

SCRIPT = Path(__file__).parents[2] / "scripts" / "make_mocap.py"
SPAN = 12  # 6 past + 6 future frames at stride 1

# Hand-written two-leg-segment URDF in the humanoid's conventions (y up).
URDF = """<robot name="toy">
  <link name="base"/><link name="root"/><link name="hip_link"/><link name="knee_link"/>
  <link name="ankle_link"/>
  <joint name="root" type="fixed"><parent link="base"/><child link="root"/>
    <origin rpy="0 0 0" xyz="0 0 0"/></joint>
  <joint name="hip" type="spherical"><parent link="root"/><child link="hip_link"/>
    <origin rpy="0 0 0" xyz="0 0 2"/></joint>
  <joint name="knee" type="revolute"><parent link="hip_link"/><child link="knee_link"/>
    <origin rpy="0 0 0" xyz="0 -4 0"/><axis xyz="0 0 1"/></joint>
  <joint name="ankle" type="spherical"><parent link="knee_link"/>
    <child link="ankle_link"/><origin rpy="0 0 0" xyz="0 -4 0"/></joint>
</robot>
"""


@pytest.fixture(scope="module")
def make_mocap():
    spec = importlib.util.spec_from_file_location("_softeq_make_mocap", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture(scope="module")
def skeleton(make_mocap):
    return make_mocap.parse_urdf(URDF, ("root", "hip", "knee", "ankle"))


def test_urdf_offsets_are_scaled_to_metres(skeleton):
    assert skeleton.parents == (-1, 0, 1, 2)
    # DeepMimic loads the URDF with globalScaling 0.25
    assert np.allclose(
        skeleton.offsets, [[0, 0, 0], [0, 0, 0.5], [0, -1, 0], [0, -1, 0]]
    )
    assert np.allclose(skeleton.axes[2], [0, 0, 1])


def test_zero_pose_gives_the_rest_offsets(make_mocap, skeleton):
    root = np.array([[1.0, 2.0, 3.0]])
    positions = make_mocap.forward_kinematics(skeleton, root, {})
    assert np.allclose(positions[0], [[1, 2, 3], [1, 2, 3.5], [1, 1, 3.5], [1, 0, 3.5]])


def test_quarter_turns_move_children_as_computed_by_hand(make_mocap, skeleton):
    half = math.sqrt(0.5)
    # hip: +90 degrees about x, quaternion (w, x, y, z) = (cos 45, sin 45, 0, 0)
    hip = make_mocap.quaternion_matrix(np.array([[half, half, 0.0, 0.0]]))
    # knee: -90 degrees about its z axis (bends the shin backwards, towards -x)
    knee = make_mocap.axis_angle_matrix(skeleton.axes[2], np.array([-math.pi / 2]))
    root = np.zeros((1, 3))
    bent_hip = make_mocap.forward_kinematics(skeleton, root, {"hip": hip})
    # R_x(90) (0, -1, 0) = (0, 0, -1): the thigh now points along -z
    assert np.allclose(bent_hip[0, 2], [0, 0, 0.5 - 1])
    assert np.allclose(bent_hip[0, 3], [0, 0, 0.5 - 2])
    bent_knee = make_mocap.forward_kinematics(skeleton, root, {"knee": knee})
    # R_z(-90) (0, -1, 0) = (-1, 0, 0): the ankle moves 1 m behind the knee
    assert np.allclose(bent_knee[0, 2], [0, -1, 0.5])
    assert np.allclose(bent_knee[0, 3], [-1, -1, 0.5])


def test_root_orientation_turns_the_whole_body(make_mocap, skeleton):
    half = math.sqrt(0.5)
    yaw = make_mocap.quaternion_matrix(
        np.array([[half, 0.0, half, 0.0]])
    )  # +90 about y
    positions = make_mocap.forward_kinematics(skeleton, np.zeros((1, 3)), {"root": yaw})
    # R_y(90) (0, 0, 0.5) = (0.5, 0, 0)
    assert np.allclose(positions[0, 1], [0.5, 0, 0])
    assert np.allclose(positions[0, 3], [0.5, -2, 0])


def test_slerp_halfway_is_half_the_angle(make_mocap):
    q0 = np.array([[1.0, 0.0, 0.0, 0.0]])
    q1 = np.array([[0.0, 0.0, 0.0, 1.0]])  # 180 degrees about z
    mid = make_mocap.slerp(q0, q1, np.array([0.5]))
    assert np.allclose(mid, [[math.sqrt(0.5), 0, 0, math.sqrt(0.5)]])


def test_shipped_skeleton_is_the_humanoid_in_metres_z_up():
    arrays = read_dataset("mocap.npz")
    joints = arrays["joints"].tolist()
    assert len(joints) == 15 and joints[0] == "root"
    offsets = dict(zip(joints, arrays["rest_offsets"], strict=True))
    # humanoid.urdf, times 0.25, (x, y, z) -> (x, -z, y)
    assert np.allclose(offsets["right_knee"], [0, 0, -0.25 * 1.686184], atol=1e-6)
    assert np.allclose(offsets["right_hip"], [0, -0.25 * 0.339548, 0], atol=1e-6)
    assert np.allclose(offsets["chest"], [0, 0, 0.25 * 0.944604], atol=1e-6)
    assert str(arrays["units"]) == "m" and int(arrays["vertical_axis"]) == 2


def test_bones_keep_their_length_in_every_frame():
    arrays = read_dataset("mocap.npz")
    positions, parents = arrays["positions"], arrays["parents"]
    lengths = np.linalg.norm(arrays["rest_offsets"], axis=-1)
    for j, parent in enumerate(parents):
        if parent >= 0:
            bone = np.linalg.norm(positions[:, j] - positions[:, parent], axis=-1)
            assert np.allclose(bone, lengths[j], atol=1e-5), arrays["joints"][j]


def test_people_stand_up_along_z():
    arrays = read_dataset("mocap.npz")
    clips = arrays["clips"].tolist()
    start, stop = arrays["clip_start"][
        [clips.index("humanoid3d_walk") + k for k in (0, 1)]
    ]
    walk = arrays["positions"][start:stop]
    joints = arrays["joints"].tolist()
    neck, ankle = walk[:, joints.index("neck")], walk[:, joints.index("right_ankle")]
    assert (neck[:, 2] - ankle[:, 2]).mean() > 1.0  # metres above the ankle
    assert 0.0 < ankle[:, 2].min() < 0.15  # ankles just above the floor z = 0


def test_task_shapes_units_and_truth():
    task = mocap()
    assert task.name == "mocap" and task.rep_in == task.rep_out == "90*V"
    assert task.sizes == (492, 35, 35)
    assert task.x_train.shape == (492, 270) and task.x_train.dtype == torch.float32
    assert task.truth == {"O3": "broken", "O2x": "broken", "O2y": "broken",
                          "O2z": "exact"}  # fmt: skip
    assert task.metrics.units == "m" and task.metrics.dt == pytest.approx(1 / 30)
    data = mocap_data()
    assert data.names[0] == "root" and data.vertical_axis == 2


def test_splits_are_contiguous_in_time_and_disjoint():
    index = mocap_windows()
    for clip in np.unique(index["clip"]):
        mine = index["clip"] == clip
        frames = {}
        for code in range(3):
            starts = index["frame"][mine & (index["split"] == code)]
            if len(starts):
                assert np.array_equal(starts, np.arange(starts[0], starts[-1] + 1))
                frames[code] = (starts[0], starts[-1] + SPAN)  # frames used
        ranges = [frames[c] for c in sorted(frames)]
        for (_, end), (begin, _) in zip(ranges, ranges[1:], strict=False):
            assert end <= begin  # train before val before test, no shared frame


def test_windows_are_the_shipped_frames():
    arrays = read_dataset("mocap.npz")
    data, index = mocap_data(), mocap_windows()
    i = 100
    first = arrays["clip_start"][index["clip"][i]] + index["frame"][i]
    assert np.array_equal(data.past[i], arrays["positions"][first : first + 6])
    assert np.array_equal(data.future[i], arrays["positions"][first + 6 : first + 12])


def test_loading_is_deterministic_and_registered():
    a, b = get_task("mocap"), get_task("mocap", seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    scale_aware = get_task("mocap:scale-aware")
    assert scale_aware.name == "mocap:scale-aware"
    assert len(set(scale_aware.metrics.scale.tolist())) == 3


def test_stride_sets_the_step():
    data = mocap_data(stride=2)
    assert data.dt == pytest.approx(1 / 15)
    assert sum(data.sizes) < sum(mocap_data().sizes)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        mocap(stride=0)


@pytest.mark.parametrize(
    ("spec", "kwargs", "match"),
    [
        ("mocap:rotated", {}, "unknown task"),
        ("mocap:", {}, "unknown task"),
        ("mocap", {"n_train": 100}, "fixed split in time"),
        ("mocap", {"seed": -1}, "seed must be an int >= 0"),
    ],
)
def test_bad_specs_raise(spec, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_task(spec, **kwargs)
