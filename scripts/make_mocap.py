"""Regenerate ``src/softeq/data/datasets/mocap.npz`` from pybullet's DeepMimic clips.

The humanoid motion clips (``pybullet_data/data/motions/humanoid3d_*.txt`` and
``walker/*.txt``) and the humanoid model (``pybullet_data/humanoid/humanoid.urdf``)
ship inside the ``pybullet`` package (zlib licence). This script downloads the pinned
release with ``pip download --no-deps`` into a temporary folder, reads the files
straight out of the archive (wheel or sdist; pybullet is never installed), and turns
every clip into 3-D joint positions:

1. each clip frame is ``duration, root xyz, root quaternion (w, x, y, z)`` followed by
   the local rotations of chest, neck, right hip, right knee, right ankle, right
   shoulder, right elbow, left hip, ... (quaternions for spherical joints, one angle
   for the 1-DoF knees and elbows);
2. the clip is resampled onto a uniform 30 Hz grid (slerp for quaternions, linear for
   the root position and the 1-DoF angles): the clips are recorded at 16 to 60 fps;
3. forward kinematics with the joint origins of ``humanoid.urdf`` scaled by 0.25 (the
   ``globalScaling`` DeepMimic loads it with): $R_j = R_{parent} R_{local,j}$,
   $p_j = p_{parent} + R_{parent}\\,o_j$;
4. DeepMimic's y-up world is rotated to z-up, $(x, y, z) \\mapsto (x, -z, y)$, so the
   vertical symmetry is O(2) about z.

Usage (from the repository root)::

    .venv/bin/python scripts/make_mocap.py            # downloads pybullet==3.2.7
    .venv/bin/python scripts/make_mocap.py --archive pybullet-3.2.7-....whl
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PYBULLET = "pybullet==3.2.7"
OUT = Path(__file__).parents[1] / "src/softeq/data/datasets/mocap.npz"
URDF = "pybullet_data/humanoid/humanoid.urdf"
MOTIONS = "pybullet_data/data/motions/"
# DeepMimic loads humanoid.urdf with globalScaling=0.25 (humanoid_stable_pd.py), so
# the scaled joint origins are in metres, like the root positions of the clips.
SCALE = 0.25
FPS = 30
# The 15 joints kept, in storage order (root = pelvis; wrists are fixed joints).
JOINTS = (
    "root", "chest", "neck",
    "right_hip", "right_knee", "right_ankle",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_hip", "left_knee", "left_ankle",
    "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
# Local rotations after the root in a clip frame: (joint, 4 = quaternion, 1 = angle).
FRAME_LAYOUT = (
    ("chest", 4), ("neck", 4),
    ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4),
    ("right_shoulder", 4), ("right_elbow", 1),
    ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4),
    ("left_shoulder", 4), ("left_elbow", 1),
)  # fmt: skip
FRAME_WIDTH = 1 + 3 + 4 + sum(n for _, n in FRAME_LAYOUT)  # 44
# y-up -> z-up: +90 degrees about x, (x, y, z) -> (x, -z, y).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class Skeleton:
    """Kinematic tree of the kept joints.

    Args:
        joints: Joint names, each parent before its children.
        parents: Index of each joint's parent joint, -1 for the root.
        offsets: Joint origin in its parent's frame, `(n_joints, 3)`, metres.
        axes: Rotation axis of revolute joints, `(n_joints, 3)` (zeros otherwise).
    """

    joints: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    axes: np.ndarray


def parse_urdf(text: str, joints: tuple[str, ...] = JOINTS) -> Skeleton:
    """Read the joint origins and parents of `joints` from URDF text.

    A joint's parent is the joint whose child link is this joint's parent link.
    Rotations in ``rpy`` are not supported (the humanoid's joint origins have none).

    Raises:
        ValueError: For a missing joint, a parent outside `joints` listed after
            its child, or a non-zero ``rpy``.
    """
    root = ET.fromstring(text.strip("\x00\r\n\t "))
    by_name = {j.get("name"): j for j in root.iter("joint")}
    link_to_joint = {j.find("child").get("link"): n for n, j in by_name.items()}
    parents, offsets, axes = [], [], []
    for name in joints:
        if name not in by_name:
            raise ValueError(f"URDF has no joint {name!r}; expected {joints}")
        joint = by_name[name]
        origin = joint.find("origin")
        if origin is not None and any(float(v) for v in origin.get("rpy", "").split()):
            raise ValueError(f"joint {name!r}: expected rpy 0 0 0")
        xyz = origin.get("xyz", "0 0 0").split() if origin is not None else [0, 0, 0]
        parent = link_to_joint.get(joint.find("parent").get("link"))
        if parent is not None and parent not in joints[: joints.index(name)]:
            raise ValueError(f"joint {name!r}: parent {parent!r} must be listed first")
        parents.append(-1 if parent is None else joints.index(parent))
        offsets.append([SCALE * float(v) for v in xyz])
        axis = joint.find("axis")
        axes.append(
            [0.0] * 3 if axis is None else [float(v) for v in axis.get("xyz").split()]
        )
    return Skeleton(tuple(joints), tuple(parents), np.array(offsets), np.array(axes))


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of unit quaternions $(w, x, y, z)$.

    Shape:
        `q`: `(..., 4)`; returns `(..., 3, 3)`.
    """
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def axis_angle_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation by `angle` (radians, shape `(n,)`) about a unit `axis` `(3,)`;
    returns `(n, 3, 3)`."""
    half = 0.5 * np.asarray(angle)[:, None]
    q = np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)
    return quaternion_matrix(q)


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation of quaternions `(n, 4)` at fractions `u` `(n,)`."""
    q0 = q0 / np.linalg.norm(q0, axis=-1, keepdims=True)
    q1 = q1 / np.linalg.norm(q1, axis=-1, keepdims=True)
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)  # the shorter arc
    dot = np.clip(np.abs(dot), -1.0, 1.0)
    theta = np.arccos(dot)
    small = theta < 1e-6
    s = np.where(small, 1.0, np.sin(theta))
    a = np.where(small, 1 - u, np.sin((1 - u) * theta) / s)
    b = np.where(small, u, np.sin(u * theta) / s)
    return a[:, None] * q0 + b[:, None] * q1


def parse_clip(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Frame times (s, `(F,)`) and frame rows (`(F, 44)`) of a DeepMimic clip."""
    frames = np.asarray(json.loads(text)["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_WIDTH:
        raise ValueError(f"expected frames of {FRAME_WIDTH} values, got {frames.shape}")
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    return times, frames[:, 1:]


def resample(times: np.ndarray, rows: np.ndarray, fps: int = FPS) -> np.ndarray:
    """Rows (without duration, `(F, 43)`) on the grid $t = 0, 1/fps, \\ldots$."""
    grid = np.arange(0.0, times[-1] + 1e-9, 1.0 / fps)
    i = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 2)
    span = times[i + 1] - times[i]
    u = np.clip((grid - times[i]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    out = (1 - u)[:, None] * rows[i] + u[:, None] * rows[i + 1]  # positions, angles
    start = 3
    for _, width in (("root", 4), *FRAME_LAYOUT):
        if width == 4:
            cols = slice(start, start + 4)
            out[:, cols] = slerp(rows[i, cols], rows[i + 1, cols], u)
        start += width
    return out


def local_rotations(rows: np.ndarray, skeleton: Skeleton) -> dict[str, np.ndarray]:
    """Local rotation matrices `(F, 3, 3)` per joint of resampled rows `(F, 43)`."""
    rotations = {"root": quaternion_matrix(rows[:, 3:7])}
    start = 7
    for name, width in FRAME_LAYOUT:
        values = rows[:, start : start + width]
        if width == 4:
            rotations[name] = quaternion_matrix(values)
        else:
            axis = skeleton.axes[skeleton.joints.index(name)]
            rotations[name] = axis_angle_matrix(axis, values[:, 0])
        start += width
    return rotations


def forward_kinematics(
    skeleton: Skeleton, root_position: np.ndarray, rotations: dict[str, np.ndarray]
) -> np.ndarray:
    """Joint positions from the root position and local joint rotations.

    $R_j = R_{parent(j)} L_j$ and $p_j = p_{parent(j)} + R_{parent(j)} o_j$, with
    $o_j$ the joint origin in its parent's frame and $L_j$ the local rotation
    (identity for joints missing from `rotations`, e.g. fixed wrists). The root
    sits at `root_position` with orientation `rotations["root"]`.

    Shape:
        `root_position`: `(F, 3)`; each rotation `(F, 3, 3)`; returns
        `(F, n_joints, 3)` in the frame of `root_position`.
    """
    n = root_position.shape[0]
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    world_rot, world_pos = [], []
    for j, name in enumerate(skeleton.joints):
        parent = skeleton.parents[j]
        if parent < 0:
            pos = root_position + eye @ skeleton.offsets[j]
            rot = eye
        else:
            pos = world_pos[parent] + world_rot[parent] @ skeleton.offsets[j]
            rot = world_rot[parent]
        world_pos.append(pos)
        world_rot.append(rot @ rotations.get(name, eye))
    return np.stack(world_pos, axis=1)


def clip_positions(text: str, skeleton: Skeleton) -> np.ndarray:
    """Z-up joint positions `(F, n_joints, 3)` of one clip at `FPS`, metres."""
    times, rows = parse_clip(text)
    rows = resample(times, rows)
    positions = forward_kinematics(
        skeleton, rows[:, :3], local_rotations(rows, skeleton)
    )
    return positions @ Y_UP_TO_Z_UP.T


def download(folder: Path) -> Path:
    """`pip download` the pinned pybullet (no dependencies) into `folder`."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        PYBULLET,
        "--no-deps",
        "-d",
        str(folder),
    ]
    subprocess.run(cmd, check=True)
    return next(p for p in folder.iterdir() if p.name.startswith("pybullet-"))


def read_archive(path: Path) -> dict[str, bytes]:
    """The humanoid URDF and the humanoid clips, keyed by their path after
    ``pybullet_data/``'s parent (``pybullet_data/...``)."""
    if path.suffix == ".whl" or path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = {n: archive.read(n) for n in archive.namelist() if _wanted(n)}
    else:
        with tarfile.open(path) as archive:
            members = {
                m.name: archive.extractfile(m).read()
                for m in archive.getmembers()
                if m.isfile() and _wanted(m.name)
            }
    return {n[n.index("pybullet_data/") :]: data for n, data in members.items()}


def _wanted(name: str) -> bool:
    if "pybullet_data/" not in name:
        return False
    rel = name[name.index("pybullet_data/") :]
    clip = rel.startswith(MOTIONS) and rel.endswith(".txt") and "laikago" not in rel
    return rel == URDF or clip


def build(members: dict[str, bytes]) -> dict[str, np.ndarray]:
    """The arrays of ``mocap.npz`` from the archive members."""
    skeleton = parse_urdf(members[URDF].decode("utf-8"))
    clips = sorted(n for n in members if n.startswith(MOTIONS))
    sequences = [clip_positions(members[n].decode("utf-8"), skeleton) for n in clips]
    lengths = [len(s) for s in sequences]
    return {
        "positions": np.concatenate(sequences).astype(np.float32),
        "clip_start": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "clips": np.array([n[len(MOTIONS) : -len(".txt")] for n in clips]),
        "joints": np.array(skeleton.joints),
        "parents": np.array(skeleton.parents, dtype=np.int64),
        "rest_offsets": (skeleton.offsets @ Y_UP_TO_Z_UP.T).astype(np.float32),
        "fps": np.array(float(FPS)),
        "units": np.array("m"),
        "vertical_axis": np.array(2),
        "source": np.array(f"{PYBULLET} pybullet_data (DeepMimic clips, zlib licence)"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="pybullet wheel or sdist to read")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.archive or download(Path(tmp))
        arrays = build(read_archive(archive))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buffer.getvalue())
    frames = arrays["positions"].shape[0]
    print(
        f"wrote {args.out}: {len(arrays['clips'])} clips, {frames} frames at {FPS} Hz"
    )


if __name__ == "__main__":
    main()
