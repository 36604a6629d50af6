"""Tests for the Waymo reader: CRC-32C, TFRecord, tf.Example, filter, convert, CLI."""

from __future__ import annotations

import struct
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softeq.data import _crc32c, _tfrecord
from softeq.data.waymo import (
    TFRecordError,
    agent_trajectories,
    convert,
    crc32c,
    main,
    make_example,
    masked_crc32c,
    parse_example,
    read_records,
    split_files,
    write_records,
)

# --- CRC-32C ---------------------------------------------------------------------


def _google_extend():
    google_crc32c = pytest.importorskip("google_crc32c")
    if google_crc32c.implementation != "c":
        pytest.skip("google-crc32c without its C extension is not used")
    return google_crc32c.extend


@pytest.fixture(params=["numpy", "google-crc32c"])
def crc32c_of(request):
    """Each CRC-32C implementation as ``crc32c_of(data, value=0)``."""
    if request.param == "numpy":
        return _crc32c._numpy_crc32c
    extend = _google_extend()
    return lambda data, value=0: extend(value, bytes(data))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0x00000000),
        (b"123456789", 0xE3069283),  # the CRC catalogue's check value
        (bytes(32), 0x8A9136AA),  # RFC 3720 (iSCSI), B.4
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
    ids=["empty", "check", "zeros", "ones", "incrementing", "decrementing"],
)
def test_crc32c_known_vectors(crc32c_of, data, expected):
    assert crc32c_of(data) == expected


def slow_crc32c(data: bytes) -> int:
    """Bit-at-a-time CRC-32C straight from the definition, for short inputs."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize("n", [1, 3, 4, 2047, 2048, 2049, 4099, 40_003])
def test_crc32c_matches_definition_on_both_code_paths(crc32c_of, n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert crc32c_of(data) == slow_crc32c(data)


@pytest.mark.parametrize("cut", [0, 5, 2000, 2500, 70_000])
def test_crc32c_continues_across_calls(crc32c_of, cut):
    data = np.random.default_rng(cut).integers(0, 256, 300_007, dtype=np.uint8)
    data = data.tobytes()
    assert crc32c_of(data[cut:], crc32c_of(data[:cut])) == crc32c_of(data)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=64), st.binary(min_size=2040, max_size=9000)),
    value=st.integers(0, 2**32 - 1),
)
def test_google_crc32c_and_numpy_agree(data, value):
    extend = _google_extend()
    expected = _crc32c._numpy_crc32c(data, value)
    assert extend(value, data) == expected
    assert crc32c(data, value) == expected  # whichever crc32c uses
    assert crc32c(bytearray(data), value) == crc32c(memoryview(data), value) == expected


def test_crc32c_uses_google_crc32c_when_installed():
    assert _crc32c._EXTEND is _google_extend()


@pytest.mark.parametrize("installed", [None, "python"], ids=["missing", "pure-python"])
def test_crc32c_falls_back_to_numpy(monkeypatch, installed):
    fake = None if installed is None else SimpleNamespace(implementation=installed)
    monkeypatch.setitem(sys.modules, "google_crc32c", fake)
    assert _crc32c._load_extend() is None
    monkeypatch.setattr(_crc32c, "_EXTEND", None)
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(4099)) == slow_crc32c(bytes(4099))


def test_masked_crc32c_rotates_and_adds_the_delta():
    crc = crc32c(b"abc")
    expected = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32
    assert masked_crc32c(b"abc") == expected


@pytest.mark.parametrize(
    ("data", "expected"), [(b"", 0xA282EAD8), (b"123456789", 0xC78AB0E5)]
)
def test_masked_crc32c_known_values(data, expected):
    # Values that TensorFlow-compatible writers (TensorBoard event files) produce.
    assert masked_crc32c(data) == expected


# --- TFRecord framing ------------------------------------------------------------

RECORDS = [b"first record", b"", bytes(range(256)) * 20]  # the last uses NumPy CRC


def written(tmp_path: Path, records=RECORDS) -> tuple[Path, list[int]]:
    """Write `records`; return the file and each record's byte offset."""
    path = tmp_path / "data.tfrecord"
    assert write_records(path, records) == len(records)
    offsets = np.cumsum([0] + [len(r) + 16 for r in records])[:-1].tolist()
    return path, offsets


def test_write_then_read_round_trips(tmp_path):
    path, offsets = written(tmp_path)
    assert list(read_records(path)) == RECORDS
    assert path.stat().st_size == sum(len(r) + 16 for r in RECORDS)
    header = path.read_bytes()[:12]
    assert struct.unpack("<QI", header) == (12, masked_crc32c(struct.pack("<Q", 12)))


@pytest.mark.parametrize(
    ("where", "part"),
    [(5, "header"), (12 + 3, "data"), (12 + 12 + 2, "footer")],
    ids=["header", "data", "footer"],
)
@pytest.mark.parametrize("index", [0, 1])
def test_truncated_file_raises_naming_record_and_offset(tmp_path, where, part, index):
    records = [b"first record", b"record two!!"]  # both 12 bytes -> same cut points
    path, offsets = written(tmp_path, records)
    path.write_bytes(path.read_bytes()[: offsets[index] + where])
    got = []
    with pytest.raises(TFRecordError, match=f"ends inside the {part}") as info:
        got.extend(read_records(path))
    assert got == records[:index]  # earlier records came out intact
    message = str(info.value)
    assert str(path) in message
    assert f"record {index} at byte offset {offsets[index]}" in message


@pytest.mark.parametrize(
    ("where", "part"),
    [(2, "length"), (9, "length"), (12 + 4, "data"), (12 + 12 + 1, "data")],
    ids=["length", "length-crc", "data", "data-crc"],
)
def test_flipped_byte_is_a_checksum_mismatch(tmp_path, where, part):
    path, offsets = written(tmp_path, [b"x" * 12, b"y" * 12])
    raw = bytearray(path.read_bytes())
    raw[offsets[1] + where] ^= 0x10
    path.write_bytes(bytes(raw))
    match = f"record 1 at byte offset 28: {part} checksum mismatch"
    with pytest.raises(TFRecordError, match=match):
        list(read_records(path))


def test_check_crc_false_reads_corrupt_data(tmp_path):
    path, _ = written(tmp_path, [b"abc"])
    raw = bytearray(path.read_bytes())
    raw[12] = ord("X")
    path.write_bytes(bytes(raw))
    assert list(read_records(path, check_crc=False)) == [b"Xbc"]


def test_tfrecord_error_is_a_value_error():
    assert issubclass(TFRecordError, ValueError)


PROPERTY = settings(derandomize=True, deadline=None, max_examples=50)
byte_strings = st.lists(st.binary(max_size=64), max_size=6)


@PROPERTY
@given(records=byte_strings)
def test_any_records_round_trip(records):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.tfrecord"
        write_records(path, records)
        assert list(read_records(path)) == records


@PROPERTY
@given(records=st.lists(st.binary(max_size=64), min_size=1, max_size=6), data=st.data())
def test_any_truncation_inside_a_record_raises(records, data):
    index = data.draw(st.integers(0, len(records) - 1), label="record")
    frame = len(records[index]) + 16
    cut = data.draw(st.integers(1, frame - 1), label="bytes kept of the record")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.tfrecord"
        write_records(path, records)
        start = sum(len(r) + 16 for r in records[:index])
        path.write_bytes(path.read_bytes()[: start + cut])
        got = []
        with pytest.raises(TFRecordError, match=f"record {index} at byte offset"):
            got.extend(read_records(path))
        assert got == records[:index]


# --- tf.Example ------------------------------------------------------------------


def test_example_round_trip_keeps_values_and_kinds():
    record = make_example(
        {
            "f": np.array([[0.5, -1.25], [3.0, 1e-3]]),
            "i": np.array([1, -(2**40)]),
            "b": np.array([True, False]),
            "s": np.array([b"\x00a\x00", b""], dtype=object),
            "u": ["tr\u00e4ck"],
            "e": np.zeros(0),
        }
    )
    out = parse_example(record)
    np.testing.assert_array_equal(out["f"], np.float32([0.5, -1.25, 3.0, 1e-3]))
    assert out["f"].dtype == np.float32 and out["i"].dtype == np.int64
    assert out["i"].tolist() == [1, -(2**40)] and out["b"].tolist() == [1, 0]
    assert out["s"].tolist() == [b"\x00a\x00", b""]  # trailing NULs kept
    assert out["u"].tolist() == ["tr\u00e4ck".encode()]
    assert out["e"].shape == (0,)
    assert parse_example(record, keys=["i"]).keys() == {"i"}


@pytest.mark.parametrize(
    "record", [b"not a protobuf", b"\x0a\xff\xff", b"\x00"], ids=["text", "cut", "nul"]
)
def test_garbage_protobuf_is_a_clear_error(record):
    with pytest.raises(ValueError, match="not a tf.Example"):
        parse_example(record)


def test_missing_feature_is_named():
    with pytest.raises(ValueError, match="no feature 'y'.*it has 1: x"):
        parse_example(make_example({"x": [1.0]}), keys=["x", "y"])


@pytest.mark.parametrize(
    ("features", "match"),
    [({"c": np.array([1j])}, "dtype complex128"), ({3: [1.0]}, "must be str")],
    ids=["complex", "int-name"],
)
def test_make_example_rejects_unsupported_values(features, match):
    with pytest.raises(TypeError, match=match):
        make_example(features)


def test_example_classes_live_in_a_private_pool():
    from google.protobuf import descriptor_pool

    make_example({"x": [1.0]})
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("tensorflow.Example")


def test_missing_protobuf_says_which_extra_to_install(monkeypatch):
    _tfrecord._example_type.cache_clear()
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    try:
        with pytest.raises(ImportError, match=r"softeq\[waymo\]"):
            parse_example(b"")
    finally:
        _tfrecord._example_type.cache_clear()


# --- synthetic Waymo scenarios ---------------------------------------------------

N_SLOTS, N_STEPS = 128, 91
STEP = np.arange(N_STEPS, dtype=np.float32)
# Per-step velocities (m per 0.1 s) and the reference filter's verdict: over the
# second before t = 0 (10 steps), |dz| must exceed 0.05, |dx| and |dy| stay below 5.
KINDS = {
    "kept": ((0.1, 0.2, 0.02), True),
    "down": ((-0.1, -0.2, -0.02), True),  # |.| of negative displacements
    "flat": ((0.1, 0.2, 0.004), False),  # |dz| = 0.04
    "fast_x": ((0.6, 0.2, 0.02), False),  # |dx| = 6
    "fast_y": ((0.1, -0.6, 0.02), False),  # |dy| = 6
    "gap": ((0.1, 0.2, 0.02), False),  # step 23 invalid
    "late_gap": ((0.1, 0.2, 0.02), True),  # invalid from step 24 on: irrelevant
}


def track(slot: int, kind: str) -> np.ndarray:
    """Positions `(91, 3)` of a synthetic agent, distinct per slot."""
    velocity = np.float32(KINDS[kind][0])
    start = np.float32([10.0 * slot, -3.0 * slot, 1.0 + 0.01 * slot])
    return start + STEP[:, None] * velocity


def scenario(agents: dict[int, str]) -> dict[str, np.ndarray]:
    """State features of one scenario with the given slots filled, as Waymo lays
    them out (agent-major, invalid entries at -1)."""
    xyz = np.full((N_SLOTS, N_STEPS, 3), -1.0, dtype=np.float32)
    valid = np.zeros((N_SLOTS, N_STEPS), dtype=np.int64)
    for slot, kind in agents.items():
        xyz[slot], valid[slot] = track(slot, kind), 1
        if kind == "gap":
            valid[slot, 23] = 0
        if kind == "late_gap":
            valid[slot, 24:] = 0
    features, bounds = {}, {"past": (0, 10), "current": (10, 11), "future": (11, 91)}
    for part, (a, b) in bounds.items():
        for axis, name in enumerate("xyz"):
            features[f"state/{part}/{name}"] = xyz[:, a:b, axis]
        features[f"state/{part}/valid"] = valid[:, a:b]
    return features


def expected(agents: dict[int, str]) -> np.ndarray:
    """The 12 points at 5 Hz (steps 0, 2, ..., 22) of the agents the filter keeps."""
    kept = [slot for slot, kind in sorted(agents.items()) if KINDS[kind][1]]
    return np.stack([track(slot, agents[slot])[0:23:2] for slot in kept])


ALL_KINDS = {3 * i + 1: kind for i, kind in enumerate(KINDS)}


def test_reference_filter_keeps_slow_agents_with_vertical_motion():
    points = agent_trajectories(scenario(ALL_KINDS))
    assert points.shape == (3, 12, 3) and points.dtype == np.float32
    np.testing.assert_array_equal(points, expected(ALL_KINDS))


def test_points_are_steps_0_to_22_every_second_step():
    points = agent_trajectories(scenario({0: "kept"}))
    np.testing.assert_allclose(points[0, :, 0], 0.1 * np.arange(0, 23, 2), rtol=1e-6)


def test_filter_none_only_needs_the_valid_window():
    points = agent_trajectories(scenario(ALL_KINDS), filter="none")
    assert len(points) == len(KINDS) - 1  # all but "gap"


@pytest.mark.parametrize(
    ("option", "value", "extra"),
    [("min_dz", 0.03, "flat"), ("max_dx", 7.0, "fast_x"), ("max_dy", 7.0, "fast_y")],
)
def test_thresholds_are_parameters(option, value, extra):
    agents = {0: "kept", 1: extra}
    assert len(agent_trajectories(scenario(agents))) == 1
    assert len(agent_trajectories(scenario(agents), **{option: value})) == 2


def test_thresholds_are_strict_in_float32():
    features = scenario({0: "kept", 1: "kept"})
    features["state/current/z"][:, 0] = features["state/past/z"][:, 0] + 0.05
    features["state/current/x"][1, 0] = features["state/past/x"][1, 0] + 5.0
    assert len(agent_trajectories(features)) == 0  # |dz| = 0.05, |dx| = 5: out
    assert len(agent_trajectories(features, min_dz=0.049, max_dx=5.01)) == 2


def test_non_finite_agents_are_dropped():
    features = scenario({0: "kept", 1: "kept"})
    features["state/future/y"][0, 3] = np.nan
    np.testing.assert_array_equal(
        agent_trajectories(features, filter="none")[:, 0, 0], [10.0]
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.pop("state/future/z"), "no feature 'state/future/z'"),
        (lambda f: f.update({"state/past/x": np.zeros(5)}), "5 values, expected 128"),
    ],
    ids=["missing", "size"],
)
def test_malformed_scenario_is_named(change, match):
    features = scenario({0: "kept"})
    change(features)
    with pytest.raises(ValueError, match=match):
        agent_trajectories(features)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"filter": "strict"}, "filter must be one of"), ({"min_dz": -1.0}, "min_dz")],
)
def test_bad_filter_options(options, match):
    with pytest.raises(ValueError, match=match):
        agent_trajectories(scenario({0: "kept"}), **options)


# --- convert and the command line ------------------------------------------------


def shard(path: Path, scenarios: list[dict[int, str]]) -> Path:
    extra = {"scenario/id": [b"abc"], "roadgraph_samples/xyz": np.zeros(30)}
    write_records(path, [make_example(scenario(s) | extra) for s in scenarios])
    return path


def shards(tmp_path: Path, n: int = 6) -> list[Path]:
    """`n` shards; shard i holds i + 1 kept agents (and some dropped ones)."""
    out = []
    for i in range(n):
        agents = {slot: "kept" for slot in range(i + 1)} | {100: "flat", 101: "gap"}
        out.append(shard(tmp_path / f"train.tfrecord-{i:05d}-of-{n:05d}", [agents]))
    return out


def test_split_rule_by_file():
    sizes = {}
    for n in (1, 2, 3, 5, 6, 12, 13, 100):
        sizes[n] = [len(files) for files in split_files(map(str, range(n))).values()]
    assert sizes == {
        1: [1, 0, 0], 2: [2, 0, 0], 3: [1, 1, 1], 5: [3, 1, 1], 6: [4, 1, 1],
        12: [8, 2, 2], 13: [9, 2, 2], 100: [68, 16, 16],
    }  # fmt: skip
    assert split_files(["b", "a", "c"])["test"] == [Path("c")]  # sorted first


def test_convert_writes_the_motion_layout(tmp_path):
    paths = shards(tmp_path)
    out = tmp_path / "motion.npz"
    counts = convert(paths[::-1], out)  # order of the arguments does not matter
    assert counts == {"train": 1 + 2 + 3 + 4, "val": 5, "test": 6}
    with np.load(out, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    assert data["past"].shape == data["future"].shape == (21, 6, 1, 3)
    assert data["past"].dtype == data["future"].dtype == np.float32
    assert data["split"].dtype == np.int8
    assert data["split"].tolist() == [0] * 10 + [1] * 5 + [2] * 6
    assert data["units"].shape == () and str(data["units"]) == "m"
    assert float(data["dt"]) == 0.2 and int(data["vertical_axis"]) == 2
    assert data["names"].tolist() == ["agent"]
    points = expected({slot: "kept" for slot in range(6)})  # the test shard
    np.testing.assert_array_equal(data["past"][15:, :, 0], points[:, :6])
    np.testing.assert_array_equal(data["future"][15:, :, 0], points[:, 6:])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([p.name for p in paths] + ["motion.npz"])  # no temp file


def test_convert_with_explicit_splits(tmp_path):
    paths = shards(tmp_path, 3)
    split = {"train": [paths[2]], "test": [paths[0], paths[1]]}
    assert convert(split, tmp_path / "m.npz") == {"train": 3, "val": 0, "test": 3}


@pytest.mark.parametrize(
    ("make_input", "match"),
    [
        (lambda p: [p[0], p[0]], "listed twice"),
        (lambda p: [p[0].with_name("missing")], "missing: no such file"),
        (lambda p: {"train": p[:1], "dev": p[1:]}, "unknown split 'dev'"),
        (lambda p: [], "no shard given"),
    ],
    ids=["twice", "missing", "split-name", "empty"],
)
def test_convert_rejects_bad_shard_lists(tmp_path, make_input, match):
    with pytest.raises(ValueError, match=match):
        convert(make_input(shards(tmp_path, 2)), tmp_path / "m.npz")


def test_convert_names_the_bad_record_and_keeps_the_old_output(tmp_path):
    good = make_example(scenario({0: "kept"}))
    write_records(tmp_path / "bad.tfrecord", [good, b"not a protobuf"])
    out = tmp_path / "m.npz"
    out.write_bytes(b"old")
    match = r"bad.tfrecord: record 1 at byte offset \d+: not a tf.Example"
    with pytest.raises(ValueError, match=match):
        convert([tmp_path / "bad.tfrecord"], out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tfrecord", "m.npz"]


def test_convert_without_any_agent_is_an_error(tmp_path):
    path = shard(tmp_path / "s.tfrecord", [{0: "flat"}, {}])
    with pytest.raises(ValueError, match="no agent passed the 'reference' filter in 2"):
        convert([path], tmp_path / "m.npz")


def test_main_converts_and_reports(tmp_path, capsys):
    paths = [str(p) for p in shards(tmp_path)]
    assert main([*paths, "--out", str(tmp_path / "m.npz")]) == 0
    assert (
        capsys.readouterr().out.strip().endswith("10 train, 5 val, 6 test trajectories")
    )
    argv = [paths[0], "--test", paths[1], "--filter", "none"]
    assert main([*argv, "--out", str(tmp_path / "n.npz")]) == 0
    assert "2 train, 0 val, 3 test" in capsys.readouterr().out  # "flat" kept too


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["missing.tfrecord", "--out", "m.npz"], "missing.tfrecord: no such file"),
        (["corrupt", "--out", "m.npz"], "data checksum mismatch"),
        (["--out", "m.npz"], "the following arguments are required: SHARD"),
        (["good", "--out", "m.txt"], "expected a .npz file name"),
        (["good", "--out", "m.npz", "--max-dx", "nan"], "max_dx must be a finite"),
    ],
    ids=["missing", "corrupt", "no-shard", "suffix", "nan"],
)
def test_main_bad_input_is_one_line_and_exit_2(
    tmp_path, monkeypatch, capsys, argv, match
):
    monkeypatch.chdir(tmp_path)
    shard(tmp_path / "good", [{0: "kept"}])
    raw = bytearray((tmp_path / "good").read_bytes())
    raw[20] ^= 1
    (tmp_path / "corrupt").write_bytes(bytes(raw))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "python -m softeq.data.waymo: error:"
    )
    assert match in err


def test_convert_reports_progress_in_bytes(tmp_path):
    paths = shards(tmp_path, 3)
    seen = []
    convert(paths, tmp_path / "m.npz", progress=seen.append)
    assert len(seen) == 3 and sum(seen) == sum(p.stat().st_size for p in paths)


def test_main_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--filter {reference,none}" in capsys.readouterr().out
