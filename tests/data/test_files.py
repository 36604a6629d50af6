"""Tests for `from_file`: round trips through npz and csv, and every malformed input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softeq.data import from_arrays, from_file

REPS = {"rep_in": "2*V", "rep_out": "V0", "groups": ("O3", "O2z")}
N = 50


def data(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)  # local generator: deterministic test data
    return rng.standard_normal((n, 6)), rng.standard_normal((n, 1))


def write_csv(path, header, rows) -> None:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def rows_of(task) -> set[tuple[float, ...]]:
    parts = [(task.x_train, task.y_train), (task.x_val, task.y_val)]
    parts.append((task.x_test, task.y_test))
    return {tuple(r) for x, y in parts for r in torch.cat([x, y], 1).tolist()}


def test_npz_round_trip_with_random_split(tmp_path):
    x, y = data()
    np.savez(tmp_path / "d.npz", x=x, y=y[:, 0])  # 1-D y is one column
    task = from_file(tmp_path / "d.npz", **REPS)
    assert task.sizes == (30, 10, 10)
    assert task.x_train.dtype == task.y_test.dtype == torch.float32
    assert task.truth == {"O3": "unknown", "O2z": "unknown"} and task.true_fn is None
    assert task.name == "file:d.npz" and task.groups == ("O3", "O2z")
    expected = np.concatenate([x, y], 1).astype(np.float32).tolist()
    assert rows_of(task) == {tuple(r) for r in expected}


def test_npz_split_depends_on_seed_only(tmp_path):
    x, y = data()
    np.savez(tmp_path / "d.npz", x=x, y=y)
    a = from_file(tmp_path / "d.npz", **REPS, seed=3)
    b = from_file(tmp_path / "d.npz", **REPS, seed=3)
    c = from_file(tmp_path / "d.npz", **REPS, seed=4)
    assert torch.equal(a.x_val, b.x_val) and not torch.equal(a.x_val, c.x_val)


def test_npz_given_splits_are_kept(tmp_path):
    x, y = data()
    np.savez(
        tmp_path / "d.npz", x=x[:30], y=y[:30], x_val=x[30:40], y_val=y[30:40],
        x_test=x[40:], y_test=y[40:],
    )  # fmt: skip
    task = from_file(tmp_path / "d.npz", **REPS)
    assert torch.equal(task.x_train, torch.from_numpy(x[:30]).float())
    assert torch.equal(task.y_test, torch.from_numpy(y[40:]).float())


def test_npz_only_test_given(tmp_path):
    x, y = data()
    np.savez(tmp_path / "d.npz", x=x[:40], y=y[:40], x_test=x[40:], y_test=y[40:])
    task = from_file(tmp_path / "d.npz", **REPS, val_fraction=0.25)
    assert task.sizes == (30, 10, 10)
    assert torch.equal(task.x_test, torch.from_numpy(x[40:]).float())


def test_csv_round_trip(tmp_path):
    x, y = data()
    header = ["y0", *(f"x{i}" for i in reversed(range(6)))]  # any column order
    write_csv(tmp_path / "d.csv", header, np.concatenate([y, x[:, ::-1]], 1))
    task = from_file(tmp_path / "d.csv", **REPS)
    assert task.sizes == (30, 10, 10)
    expected = np.concatenate([x, y], 1).astype(np.float32).tolist()
    assert rows_of(task) == {tuple(r) for r in expected}


def test_csv_split_column(tmp_path):
    x, y = data(6)
    header = ["x0", "x1", "x2", "x3", "x4", "x5", "y0", "split"]
    labels = ["train", "val", "test", "train", "train", "test"]
    rows = [[*r, s] for r, s in zip(np.concatenate([x, y], 1), labels, strict=True)]
    write_csv(tmp_path / "d.csv", header, rows)
    task = from_file(tmp_path / "d.csv", **REPS)
    assert task.sizes == (3, 1, 2)
    assert torch.equal(task.x_val, torch.from_numpy(x[1:2]).float())


def npz(**arrays):
    def write(path):
        np.savez(path / "d.npz", **arrays)
        return path / "d.npz"

    return write


def text(name: str, content: str | bytes):
    def write(path):
        target = path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        return target

    return write


def npy_named_npz(path):
    np.save(path / "d.npy", np.zeros((3, 6)))
    (path / "d.npy").rename(path / "d.npz")
    return path / "d.npz"


X, Y = data()
NAN_X = X.copy()
NAN_X[3, 2] = np.nan
HEAD = "x0,x1,x2,x3,x4,x5,y0\n"
ROW = "1,2,3,4,5,6,7\n"
CASES = {
    "missing-file": (lambda p: p / "nope.npz", {}, "no such file"),
    "wrong-suffix": (text("d.txt", HEAD + ROW), {}, r"expected a \.npz or \.csv"),
    "missing-y": (npz(x=X), {}, r"missing array\(s\) \['y'\]"),
    "unpaired-val": (npz(x=X, y=Y, x_val=X), {}, "x_val and y_val must be given"),
    "x-1d": (npz(x=X[:, 0], y=Y), {}, r"x must be 2-D .* got shape \(50,\)"),
    "x-3d": (npz(x=X[:, :, None], y=Y), {}, "x must be 2-D"),
    "row-mismatch": (npz(x=X, y=Y[:40]), {}, "x has 50 rows but y has 40"),
    "x-features": (npz(x=X[:, :5], y=Y), {}, "x has 5 features .* rep_in 2V has dim 6"),
    "y-features": (npz(x=X, y=np.c_[Y, Y]), {}, "y has 2 features .* dim 1"),
    "val-features": (
        npz(x=X, y=Y, x_val=X[:, :3], y_val=Y), {}, "x_val has 3 features"
    ),
    "nan": (npz(x=NAN_X, y=Y), {}, "x contains NaN or inf"),
    "inf": (npz(x=X, y=Y, x_val=X, y_val=Y * np.inf), {}, "y_val contains NaN or inf"),
    "float32-overflow": (npz(x=X * 1e300, y=Y), {}, "x contains NaN or inf"),
    "strings": (npz(x=X.astype(str), y=Y), {}, "x must be numeric"),
    "complex": (npz(x=X + 1j, y=Y), {}, "x must be real"),
    "pickled-object": (
        npz(x=np.array([X], dtype=object), y=Y), {}, "without pickles"
    ),
    "not-a-zip": (text("d.npz", b"\x00garbage"), {}, "cannot read as an npz"),
    "npy-not-npz": (npy_named_npz, {}, "single .npy array"),
    "empty-val": (npz(x=X, y=Y), {"val_fraction": 0.0}, "the val split is empty"),
    "too-few-rows": (npz(x=X[:2], y=Y[:2]), {}, "split is empty .*2 pooled"),
    "bad-fractions": (npz(x=X, y=Y), {"val_fraction": 0.6, "test_fraction": 0.5},
                      "sum < 1"),
    "unknown-group": (npz(x=X, y=Y), {"groups": ("O3", "O2w")}, "unknown group 'O2w'"),
    "no-groups": (npz(x=X, y=Y), {"groups": ()}, "non-empty sequence"),
    "string-groups": (npz(x=X, y=Y), {"groups": "O3"}, "non-empty sequence"),
    "bad-rep": (npz(x=X, y=Y), {"rep_in": "2*W"}, "cannot parse term '2\\*W'"),
    "negative-seed": (npz(x=X, y=Y), {"seed": -1}, "seed must be an int >= 0"),
    "csv-empty": (text("d.csv", "\n"), {}, "empty CSV"),
    "csv-bad-column": (text("d.csv", "x0,x1,z0\n"), {}, "unexpected .* column 'z0'"),
    "csv-repeated": (text("d.csv", "x0,x0,y0\n"), {}, "repeated column 'x0'"),
    "csv-gap": (text("d.csv", "x0,x2,y0\n"), {}, r"none missing, got \['x0', 'x2'\]"),
    "csv-no-y": (text("d.csv", "x0,x1\n"), {}, "y columns must be"),
    "csv-fields": (text("d.csv", HEAD + "1,2,3\n"), {}, "line 2 has 3 fields"),
    "csv-number": (text("d.csv", HEAD + ROW + "1,2,a,4,5,6,7\n"), {},
                   "line 3, column 'x2': 'a' is not a number"),
    "csv-split-label": (text("d.csv", HEAD[:-1] + ",split\n" + ROW[:-1] + ",dev\n"),
                        {}, "column 'split': expected one of"),
    "csv-binary": (text("d.csv", b"\xff\xfe\x00x0"), {}, "expected UTF-8"),
    "csv-header-only": (text("d.csv", HEAD), {}, "split is empty"),
    "csv-nan": (text("d.csv", HEAD + "1,2,nan,4,5,6,7\n" * 10), {}, "contains NaN"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_raises_one_line_error(tmp_path, case):
    write, overrides, match = CASES[case]
    path = write(tmp_path)
    with pytest.raises(ValueError, match=match) as info:
        from_file(path, **{**REPS, **overrides})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"from_file({path.name})")


def test_from_arrays_splits_and_checks_like_from_file():
    x = np.random.default_rng(0).normal(size=(100, 6))
    y = x[:, :3]
    task = from_arrays(x, y, rep_in="2*V", rep_out="V", groups=["O3", "O2z"], seed=1)
    assert (len(task.x_train), len(task.x_val), len(task.x_test)) == (60, 20, 20)
    assert task.truth == {"O3": "unknown", "O2z": "unknown"}
    given = from_arrays(torch.as_tensor(x), y, rep_in="2*V", rep_out="V",
                        groups=["O3"], x_val=x[:5], y_val=y[:5])  # fmt: skip
    assert len(given.x_val) == 5 and len(given.x_train) == 80
    with pytest.raises(ValueError, match="given together"):
        from_arrays(x, y, rep_in="2*V", rep_out="V", groups=["O3"], x_val=x[:5])
    with pytest.raises(ValueError, match="features"):
        from_arrays(x, y, rep_in="V", rep_out="V", groups=["O3"])
    with pytest.raises(ValueError, match="not a numeric array"):
        from_arrays([["a"]], y, rep_in="V", rep_out="V", groups=["O3"])
