"""Training never loses work: a SIGKILLed run resumes bit-identically, an
interrupted checkpoint write leaves the previous checkpoint intact, and a damaged
checkpoint is refused with one clear error, never loaded as silently wrong numbers."""

from __future__ import annotations

import io
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from softeq.cli import main
from softeq.train import TrainConfig, Trainer, load_checkpoint, save_atomic
from tests.reliability._helpers import (
    assert_one_line_error,
    assert_same_state,
    count,
    count_lines,
    hypothesis_settings,
    one_thread,
    run_softeq,
    start_softeq,
    subprocess_env,
    wait_for,
    without_plots,
)

EPOCHS = 60
TRAIN = ["train", "--task", "inertia:o2z", "--model", "per", "--seed", "0",
         "--epochs", str(EPOCHS), "--ch", "16", "--num-layers", "1",
         "--checkpoint-every", "1", "--eval-inputs", "4",
         "--eval-transforms", "2"]  # fmt: skip
SMALL = dict(task="inertia:o2z", model="per", ch=8, num_layers=1, epochs=6,
             batch_size=500, select_after=2, eval_inputs=4, eval_transforms=2,
             checkpoint_every=1)  # fmt: skip


@pytest.fixture(scope="module")
def basis_cache(tmp_path_factory):
    """Shared by the subprocesses: bases are solved once, then read from disk."""
    return tmp_path_factory.mktemp("basis-cache")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, in this process: the killed and resumed runs in
    fresh processes must match it bit for bit."""
    out = tmp_path_factory.mktemp("reference") / "run"
    with one_thread(), without_plots():
        assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def assert_same_run(a, b) -> None:
    assert_same_state(load_checkpoint(a / "checkpoint.pt"),
                      load_checkpoint(b / "checkpoint.pt"))  # fmt: skip
    for name in ("metrics.jsonl", "summary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# -- (a) SIGKILL at a random moment, then --resume ---------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_then_resume_is_bit_identical(seed, reference, basis_cache, tmp_path):
    rng = random.Random(seed)
    out = tmp_path / "run"
    # a random epoch, then a random moment inside it (the checkpoint write included)
    after_epochs, delay = rng.randint(2, EPOCHS - 25), rng.uniform(0.0, 0.03)
    proc = start_softeq([*TRAIN, "--out", str(out)], cache=basis_cache)
    try:
        wait_for(lambda: count_lines(out / "metrics.jsonl") >= after_epochs
                 and (out / "checkpoint.pt").is_file(), proc)  # fmt: skip
        time.sleep(delay)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(out / "checkpoint.pt")["epoch"]
    assert 1 <= killed_at < EPOCHS
    resumed = run_softeq([*TRAIN, "--out", str(out), "--resume"], cache=basis_cache)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, reference)
    count("kills (training, resumed bit-identically)")


class _CountSaves(Trainer):
    """Trains nothing (the loop's bookkeeping is what is measured)."""

    saves: list[int]

    def _train_epoch(self):
        return {"lr": 0.0, "train/loss": 1.0, "train/mse": 1.0, "batches": 1}

    def save_checkpoint(self) -> None:
        self.saves.append(self.epoch)


def test_default_checkpoints_come_about_100_times_per_run(tmp_path):
    """`checkpoint_every = 0` (the default) saves every `max(1, epochs // 100)`
    epochs and at the end: a kill costs at most that many epochs (1% of a long run)."""
    cfg = TrainConfig(task="inertia:o2z", model="mlp", ch=8, num_layers=1,
                      epochs=250, patience=0, eval_inputs=2,
                      eval_transforms=2)  # fmt: skip
    trainer = _CountSaves(cfg, tmp_path)
    trainer.saves = []
    trainer.fit()
    assert trainer.saves == [*range(2, 250, 2), 250]


# -- (b) a checkpoint write that dies midway ---------------------------------------


def _half_then_die(error: BaseException):
    """A `torch.save` that writes half of the real bytes, then fails."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise error

    return save


@pytest.mark.parametrize("error", [OSError(28, "No space left"), KeyboardInterrupt()])
def test_interrupted_write_keeps_the_previous_file(error, tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    old = {"w": torch.arange(1000.0)}
    save_atomic(old, path)
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", _half_then_die(error))
    with pytest.raises(type(error)):
        save_atomic({"w": torch.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert torch.equal(torch.load(path, weights_only=True)["w"], old["w"])
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp left


def test_side_files_are_written_atomically(tmp_path, monkeypatch):
    """A run's text files (config, summary, reports) go through the same atomic
    write: a failure mid-write leaves the previous file intact and no temp file."""
    from softeq import _atomic

    path = tmp_path / "summary.json"
    _atomic.write_text_atomic(path, '{"old": 1}\n')

    def die(fh):
        fh.write(b'{"ne')
        raise OSError(28, "No space left")

    real = _atomic.write_atomic
    monkeypatch.setattr(_atomic, "write_atomic", lambda p, _: real(p, die))
    with pytest.raises(OSError):
        _atomic.write_text_atomic(path, '{"new": 2}\n')
    assert path.read_text() == '{"old": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


class _DiskFullAtEpoch3(Trainer):
    def save_checkpoint(self) -> None:
        if self.epoch != 3:
            return super().save_checkpoint()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch, "save", _half_then_die(OSError(28, "No space left")))
            super().save_checkpoint()


def test_trainer_survives_a_failed_checkpoint_write(tmp_path):
    cfg = TrainConfig(**SMALL)
    expected = Trainer(cfg, tmp_path / "full").fit()
    with pytest.raises(OSError, match="No space left"):
        _DiskFullAtEpoch3(cfg, tmp_path / "cut").fit()
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["epoch"] == 2
    assert Trainer(cfg, tmp_path / "cut").fit(resume=True) == expected
    assert_same_run(tmp_path / "cut", tmp_path / "full")


# A child that rewrites a 16 MB file forever; with `pause`, it stops halfway
# through one write (announcing it) so that the kill surely lands mid-write.
_WRITER = """
import io, sys, time, torch
from pathlib import Path
from softeq.train import save_atomic
path, pause = Path(sys.argv[1]), sys.argv[2] == "pause"
real_save = torch.save
def paused_save(obj, f):
    if not (pause and int(obj["i"]) == 3):
        return real_save(obj, f)
    buffer = io.BytesIO()
    real_save(obj, buffer)
    f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (path.parent / "halfway").touch()
    time.sleep(60)
torch.save = paused_save
for i in range(10**6):
    save_atomic({"i": torch.tensor(i), "v": torch.full((4_000_000,), float(i))}, path)
"""


@pytest.mark.parametrize("moment", ["halfway", "random"])
def test_process_killed_while_writing_a_large_file(moment, tmp_path):
    path = tmp_path / "big.pt"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), "pause" if moment == "halfway"
         else "run"], env=subprocess_env(),
    )  # fmt: skip
    try:
        if moment == "halfway":
            wait_for((tmp_path / "halfway").is_file, proc)
        else:
            wait_for(path.is_file, proc)
            time.sleep(random.Random(0).uniform(0.1, 0.6))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    state = torch.load(path, weights_only=True)
    i = int(state["i"])
    assert torch.equal(state["v"], torch.full((4_000_000,), float(i)))
    if moment == "halfway":
        assert i == 2  # the write of 3 died; 2 is intact
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".big.pt.")]
        assert temps, "the killed write left its temporary file (ignored by loaders)"
    count("kills (writing a 16 MB file)")


# -- (c) damaged checkpoints: one clear error, never silently wrong numbers ---------


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    with one_thread(), without_plots():
        Trainer(TrainConfig(**SMALL), out).fit()
    return out


damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("flip"), st.lists(st.floats(0, 1, exclude_max=True),
                                        min_size=1, max_size=8)),
    st.tuples(st.just("zero"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("garbage"), st.binary(max_size=64)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
)  # fmt: skip


def _damaged(raw: bytes, kind: str, arg) -> bytes:
    data = bytearray(raw)
    if kind == "truncate":
        return bytes(data[: int(arg * len(data))])
    if kind == "flip":
        for where in arg:
            bit = int(where * len(data) * 8)
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)
    if kind == "zero":
        start = int(arg * len(data))
        data[start : start + 64] = bytes(len(data[start : start + 64]))
        return bytes(data)
    return bytes(arg) if kind == "garbage" else bytes(data) + arg


@hypothesis_settings(max_examples=200)
@given(how=damage)
def test_damaged_checkpoint_is_refused_or_intact(good_run, tmp_path, how):
    raw = (good_run / "checkpoint.pt").read_bytes()
    data = _damaged(raw, *how)
    assume(data != raw)  # e.g. a zeroed range that held zeros
    count("checkpoints corrupted")
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(data)
    try:
        state = load_checkpoint(path)
    except ValueError as err:
        assert str(path) in str(err) and "\n" not in str(err)
    else:  # only bytes outside the payload changed: the numbers are intact
        assert_same_state(state, load_checkpoint(good_run / "checkpoint.pt"))


@pytest.mark.parametrize("kind", ["truncated", "bit-flipped", "empty", "text"])
@pytest.mark.parametrize("command", ["resume", "eval"])
def test_cli_refuses_a_damaged_checkpoint(kind, command, good_run, tmp_path, capsys):
    count("checkpoints corrupted")
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.toml", "metrics.jsonl"):
        (run / name).write_bytes((good_run / name).read_bytes())
    raw = (good_run / "checkpoint.pt").read_bytes()
    damaged = {"truncated": raw[: len(raw) // 3], "empty": b"",
               "bit-flipped": _damaged(raw, "flip", [0.5]), "text": b"{}"}  # fmt: skip
    (run / "checkpoint.pt").write_bytes(damaged[kind])
    if command == "eval":
        code = main(["eval", str(run)])
    else:
        code = main(["train", "--config", str(run / "config.toml"), "--out", str(run),
                     "--resume"])  # fmt: skip
    assert_one_line_error(code, capsys.readouterr().err, "checkpoint")
