"""Bad data files end in one clear error, from `softeq.data.from_file` and from
`softeq discover FILE`: NaN/inf, empty, ragged, wrong dtype, wrong shape, malformed
npz and CSV."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softeq.cli import main
from softeq.data import from_file
from tests.reliability._helpers import (
    assert_one_line_error,
    count,
    hypothesis_settings,
)

REPS = dict(rep_in="V", rep_out="V0", groups=("O3", "O2z"))
CLI_REPS = ["--rep-in", "V", "--rep-out", "V0", "--groups", "O3,O2z"]
BAD_VALUES = [np.nan, np.inf, -np.inf, 1e39, -3e300]  # the last two overflow float32
NOT_NUMBERS = ["abc", "", "1.2.3", "--1", "0x10", "1e", "NaNa", "None", "true"]


@st.composite
def good_arrays(draw) -> dict[str, np.ndarray]:
    n = draw(st.integers(5, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arrays = {"x": rng.standard_normal((n, 3)), "y": rng.standard_normal((n, 1))}
    if draw(st.booleans()):
        arrays.update(x_val=rng.standard_normal((4, 3)), y_val=rng.standard_normal(4))
    return arrays


@st.composite
def bad_npz(draw) -> dict[str, np.ndarray]:
    """A data set with exactly one thing wrong."""
    arrays = draw(good_arrays())
    key = draw(st.sampled_from(sorted(arrays)))
    a = arrays[key]
    kind = draw(st.sampled_from(["value", "features", "rows", "empty", "dtype",
                                 "ndim", "missing", "ragged"]))  # fmt: skip
    if kind == "value":
        a = a.copy()
        index = tuple(draw(st.integers(0, s - 1)) for s in a.shape)
        a[index] = draw(st.sampled_from(BAD_VALUES))
    elif kind == "features":
        correct = 1 if key.startswith("y") else 3
        k = draw(st.integers(0, 6).filter(lambda k: k != correct))
        a = np.zeros((len(a), k))
    elif kind == "rows":
        a = a[: draw(st.integers(0, len(a) - 1))]
    elif kind == "empty":
        arrays = {k: v[:0] for k, v in arrays.items()}
        a = arrays[key]
    elif kind == "dtype":
        a = a.astype(draw(st.sampled_from(["U8", "complex128", "object", "M8[s]",
                                           "V8"])))  # fmt: skip
    elif kind == "ndim":
        a = draw(st.sampled_from([a[..., None, None], np.float64(1.0)]))
    elif kind == "missing":
        arrays.pop(key)
        return arrays
    else:  # ragged rows need an object array, which only a pickle can hold
        a = np.array([[1.0, 2.0, 3.0], [1.0]] * 3, dtype=object)
    arrays[key] = a
    return arrays


def _check_one_error(path, tmp_path, capsys) -> None:
    """`from_file` and `softeq discover` both fail with one clear line."""
    prefix = f"from_file({path.name}):"
    with pytest.raises(ValueError) as e:
        from_file(path, **REPS)
    message = str(e.value)
    assert message.startswith(prefix) and "\n" not in message, message
    assert len(message) < 600, message
    code = main(["discover", str(path), *CLI_REPS, "--out", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, prefix)
    assert not (tmp_path / "run").exists()


@hypothesis_settings(max_examples=150)
@given(arrays=bad_npz())
def test_bad_npz_is_one_clear_error(arrays, tmp_path, capsys):
    count("inputs")
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    _check_one_error(path, tmp_path, capsys)


@st.composite
def bad_csv(draw) -> str:
    arrays = draw(good_arrays())
    x, y = arrays["x"], arrays["y"]
    header = ["x0", "x1", "x2", "y0"]
    rows = [[repr(float(v)) for v in (*xr, *yr)] for xr, yr in zip(x, y, strict=True)]
    kind = draw(st.sampled_from(["header", "ragged", "text", "value", "empty",
                                 "quote", "split", "features"]))  # fmt: skip
    i = draw(st.integers(0, len(rows) - 1))
    j = draw(st.integers(0, 3))
    if kind == "header":
        names = ["x9", "z0", "x", "", "y0", "split2"]
        header[j] = draw(st.sampled_from([n for n in names if n != header[j]]))
    elif kind == "ragged":  # any field count but the header's 4 (and 0: skipped)
        rows[i] = (rows[i] + ["1.0"] * 2)[: draw(st.sampled_from([1, 2, 3, 5, 6]))]
    elif kind == "text":
        rows[i][j] = draw(st.sampled_from(NOT_NUMBERS))
    elif kind == "value":
        rows[i][j] = draw(st.sampled_from(["nan", "inf", "-inf", "1e39", "-1e300"]))
    elif kind == "empty":
        rows = []
    elif kind == "quote":
        rows[i][j] = '"1.0'
    elif kind == "split":
        header.append("split")
        label = draw(st.sampled_from(["val", "test", "training", ""]))
        rows = [[*r, label] for r in rows]
    else:
        header, rows = header[1:], [r[1:] for r in rows]
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


@hypothesis_settings(max_examples=150)
@given(text=bad_csv())
def test_bad_csv_is_one_clear_error(text, tmp_path, capsys):
    count("inputs")
    path = tmp_path / "data.csv"
    path.write_text(text)
    _check_one_error(path, tmp_path, capsys)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("none.npz", None, "no such file"),
        ("garbage.npz", b"PK\x03\x04garbage", "without pickles"),
        ("empty.npz", b"", "without pickles"),
        ("single.npz", "npy", "single .npy array"),
        ("binary.csv", b"\xff\xfe\x00x0", "expected UTF-8"),
        ("huge-field.csv", b'x0,x1,x2,y0\n1,2,3,"' + b"1" * 200_000 + b'"\n',
         "malformed CSV"),
        ("data.txt", b"x0,y0\n", "expected a .npz or .csv file"),
    ],
)  # fmt: skip
def test_unreadable_data_files(name, content, message, tmp_path, capsys):
    count("inputs")
    path = tmp_path / name
    if content == "npy":
        with path.open("wb") as fh:
            np.save(fh, np.zeros((4, 3)))
    elif content is not None:
        path.write_bytes(content)
    _check_one_error(path, tmp_path, capsys)
    with pytest.raises(ValueError, match="from_file") as e:
        from_file(path, **REPS)
    assert message in str(e.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"groups": ("O3", "SO4")}, "must act on the same R^d"),
        ({"groups": 5}, "non-empty sequence of group names"),
        ({"groups": ()}, "non-empty sequence of group names"),
        ({"groups": ("O3", "O3")}, "distinct"),
        ({"groups": ("O3", "O99999")}, "n <= 64"),
        ({"rep_in": "V+W"}, "cannot parse term 'W'"),
        ({"rep_in": None}, "non-empty"),
        ({"seed": -1}, "seed"),
        ({"val_fraction": float("nan")}, "val_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "sum < 1"),
    ],
)
def test_bad_arguments_to_from_file(kwargs, message, tmp_path):
    count("inputs")
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((20, 3)), y=np.zeros((20, 1)))
    with pytest.raises(ValueError) as e:
        from_file(path, **{**REPS, **kwargs})
    assert message in str(e.value) and str(e.value).startswith("from_file(d.npz)")


def test_discover_with_groups_on_different_spaces(tmp_path, capsys):
    count("inputs")
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((20, 3)), y=np.zeros((20, 1)))
    argv = ["discover", str(path), "--rep-in", "V", "--rep-out", "V0"]
    code = main([*argv, "--groups", "O3,SO4"])
    assert_one_line_error(code, capsys.readouterr().err, "O3 on R^3, SO4 on R^4")
