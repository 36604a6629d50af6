"""Bad input to the `softeq` command ends in exit code 2 and one `softeq: error:`
line on stderr: flags, config files, run folders. Mostly in-process
(`softeq.cli.main`), a few as real processes."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from softeq.cli import main
from softeq.train import TrainConfig
from tests.reliability._helpers import (
    assert_one_line_error,
    count,
    hypothesis_settings,
    subprocess_env,
)

# Flags that make any run that slips through validation tiny.
TINY = ["--ch", "8", "--num-layers", "1", "--epochs", "2", "--eval-inputs", "2",
        "--eval-transforms", "2"]  # fmt: skip
NO_CUDA = not torch.cuda.is_available()


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--epochs", "-1"], "epochs must be an integer >= 1, got -1"),
        (["--epochs", "0"], "epochs must be an integer >= 1"),
        (["--lr", "0"], "lr must be > 0"),
        (["--lr", "-0.1"], "lr must be a number >= 0"),
        (["--lr", "nan"], "lr must be a number >= 0 (finite), got nan"),
        (["--lr", "inf"], "lr must be a number >= 0 (finite), got inf"),
        (["--batch-size", "0"], "batch_size must be an integer >= 1"),
        (["--ch", "0"], "ch must be an integer >= 1"),
        (["--seed", "-1"], "seed must be an integer >= 0"),
        (["--strength", "-1"], "strength must be a number >= 0"),
        (["--checkpoint-every", "-1"], "checkpoint_every must be an integer >= 0"),
        (["--task", "bogus"], "unknown task 'bogus'; expected one of"),
        (["--task", "inertia:"], "unknown task 'inertia:'"),
        (["--task", "data.npz"], "unknown task 'data.npz'"),
        (["--preset", "slow"], "preset must be one of"),
        (["--model", "resnet"], "model must be one of"),
        (["--tuner", "adam"], "tuner must be one of"),
        (["--allocation", "random"], "allocation must be one of"),
        (["--device", "tpu"], "device must be one of"),
        pytest.param(["--device", "cuda"], "no CUDA device",
                     marks=pytest.mark.skipif(not NO_CUDA, reason="CUDA present")),
        (["--model", "emlp", "--group", "O9z"], "unknown group 'O9z'"),
        (["--model", "emlp", "--group", "O99999"], "n <= 64"),
        (["--model", "rpp-oracle", "--oracle", "O3+"], "unknown group ''"),
    ],
)  # fmt: skip
def test_bad_train_flags(argv, needle, tmp_path, capsys):
    count("inputs")
    code = main(["train", *TINY, *argv, "--out", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, needle)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--epochs", "ten"], "argument --epochs: invalid int value"),
        (["train", "--epoks", "3"], "unrecognized arguments: --epoks"),
        (["discover", "data.npz"], "the following arguments are required"),
        (["discover", "d.npz", "--rep-in", "V", "--rep-out", "V", "--tuner", "x"],
         "argument --tuner: invalid choice"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)  # fmt: skip
def test_flags_argparse_rejects(argv, needle, capsys):
    """argparse's own errors: usage, then one `softeq ...: error:` line, exit 2."""
    count("inputs")
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("softeq") and ": error: " in last and needle in last


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    return repr(value)


_FIELDS = sorted(TrainConfig.__dataclass_fields__)
_ANY = st.one_of(
    st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
    st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8),
    st.sampled_from(["inertia:o2z", "per", "mlp", "fast", "paper", "O3", "cuda"]),
    st.lists(st.integers(0, 3), max_size=2),
)  # fmt: skip
# One entry the CLI must refuse before any training; written last.
_BAD = st.sampled_from([
    ("epochs", '"ten"'), ("epochs", "inf"), ("epochs", "-1"), ("epochs", "2.5"),
    ("task", "3"), ("task", "[1]"), ("lr", "0"), ("lr", "nan"), ("lr", '"fast"'),
    ("batch_size", "0"), ("seed", "-1"), ("preset", '"slow"'), ("model", '"x"'),
    ("device", '"tpu"'), ("fast_dev_run", "1"), ("ch", "1979-05-27"),
    ("epochz", "3"), ("strength", "-inf"), ("patience", "true"),
])  # fmt: skip


@hypothesis_settings(max_examples=150)
@given(data=st.dictionaries(st.sampled_from(_FIELDS), _ANY, max_size=5), bad=_BAD)
def test_bad_config_files(data, bad, tmp_path, capsys):
    count("inputs")
    data.pop(bad[0], None)
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items()]
    path = tmp_path / "bad.toml"
    path.write_text("\n".join([*lines, f"{bad[0]} = {bad[1]}"]) + "\n")
    code = main(["train", "--config", str(path), "--out", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, str(path))


def test_out_is_a_file(tmp_path, capsys):
    count("inputs")
    (tmp_path / "file").write_text("x")
    code = main(["train", *TINY, "--out", str(tmp_path / "file")])
    assert_one_line_error(code, capsys.readouterr().err, "is a file; expected a run")


@pytest.mark.parametrize(
    "files, needle",
    [
        ({}, "config.toml does not exist"),
        ({"config.toml": 'task = "inertia:o2z"\n'}, "no checkpoint at"),
        ({"config.toml": "epochs = [\n"}, "not valid TOML"),
        ({"config.toml": "epochs = -3\n"}, "epochs must be an integer >= 1"),
    ],
)
def test_bad_run_folder_for_eval(files, needle, tmp_path, capsys):
    count("inputs")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code = main(["eval", str(tmp_path)])
    assert_one_line_error(code, capsys.readouterr().err, needle)


@pytest.mark.parametrize(
    "change, needle",
    [
        ("config", "written by a different config than config.toml (differs in ['ch'"),
        ("layout", "not a softeq training checkpoint: missing keys"),
    ],
)
def test_eval_refuses_a_checkpoint_that_does_not_belong(
    change, needle, tmp_path, capsys
):
    count("inputs")
    run = tmp_path / "run"
    assert main(["train", *TINY, "--model", "mlp", "--out", str(run)]) == 0
    if change == "config":
        text = (run / "config.toml").read_text().replace("ch = 8", "ch = 16")
        (run / "config.toml").write_text(text)
    else:
        torch.save({"epoch": 1, "model": {}}, run / "checkpoint.pt")
    capsys.readouterr()
    assert_one_line_error(main(["eval", str(run)]), capsys.readouterr().err, needle)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--rep-in", "V+W", "--rep-out", "V0"], "cannot parse term 'W'"),
        (["--rep-in", "V", "--rep-out", "V0", "--groups", "O3,O9z"], "'O9z'"),
        (["--rep-in", "V", "--rep-out", "V0", "--groups", ","], "non-empty"),
        (["--rep-in", "V", "--rep-out", "V0", "--groups", "O2z,O3"], "subgroup"),
        (["--rep-in", "V", "--rep-out", "V0", "--epochs", "0"], "epochs must be"),
        (["--rep-in", "V", "--rep-out", "V0", "--seed", "-2"], "seed"),
        (["--rep-in", "2*V", "--rep-out", "V0"], "rep_in 2V has dim 6"),
    ],
)
def test_bad_discover_arguments(argv, needle, tmp_path, capsys):
    count("inputs")
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.standard_normal((30, 3)), y=rng.standard_normal((30, 1)))
    code = main(["discover", str(path), *argv, "--out", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, needle)


@pytest.mark.parametrize("case", ["flag", "data"])
def test_real_process_exits_2_with_one_line(case, tmp_path):
    """The installed entry point (`python -m softeq.cli`), not just `main()`."""
    count("inputs")
    if case == "flag":
        argv, needle = ["train", "--epochs", "-1"], "epochs must be"
    else:
        x = np.ones((20, 3))
        x[3, 1] = np.nan
        np.savez(tmp_path / "nan.npz", x=x, y=np.ones((20, 1)))
        argv = ["discover", str(tmp_path / "nan.npz"), "--rep-in", "V",
                "--rep-out", "V0"]  # fmt: skip
        needle = "x contains NaN or inf"
    proc = subprocess.run(
        [sys.executable, "-m", "softeq.cli", *argv, "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120, env=subprocess_env(),
        check=False,
    )  # fmt: skip
    assert_one_line_error(proc.returncode, proc.stderr, needle)
    assert proc.stdout == "" and not (tmp_path / "r").exists()
