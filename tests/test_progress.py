"""The shared optional progress bar and its three users: trainer, grid, Waymo CLI."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest

from softeq._progress import progress_bar
from softeq.bench import run_grid
from softeq.data import waymo
from softeq.train import TrainConfig, Trainer


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal, as stderr is in a shell."""

    def isatty(self) -> bool:
        return True


def _on_terminal(monkeypatch: pytest.MonkeyPatch) -> _Terminal:
    """Replace stderr by a terminal, so that bars with ``disable=None`` draw.

    Called in the test body: pytest's output capture sets `sys.stderr` again
    between fixture setup and the test call.
    """
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    return term


@pytest.fixture
def without_tqdm(monkeypatch) -> None:
    """tqdm made unimportable, as when the ``cli`` extra is not installed."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_a_bar_on_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    terminal = _on_terminal(monkeypatch)
    bar = progress_bar(total=10, desc="runs", initial=3, leave=False)
    assert bar is not None
    assert (bar.total, bar.n, bar.desc, bar.leave) == (10, 3, "runs", False)
    assert "runs:  30%" in terminal.getvalue() and "3/10" in terminal.getvalue()
    bar.update(2)
    assert bar.n == 5
    bar.close()


def test_no_bar_off_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # logs, CI
    assert progress_bar(total=10, desc="runs") is None
    assert progress_bar(total=10, desc="runs", file=io.StringIO()) is None


def test_disable_is_passed_on():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = progress_bar(total=1, desc="forced", file=out, disable=False)
    assert bar is not None
    bar.close()
    assert "forced" in out.getvalue()
    assert progress_bar(total=1, desc="off", file=_Terminal(), disable=True) is None


@pytest.mark.usefixtures("without_tqdm")
def test_no_bar_without_tqdm(monkeypatch):
    _on_terminal(monkeypatch)
    assert progress_bar(total=10, desc="runs") is None
    assert progress_bar(total=1, desc="forced", disable=False) is None


def test_the_trainer_bar_counts_epochs(monkeypatch):
    pytest.importorskip("tqdm")
    _on_terminal(monkeypatch)
    config = TrainConfig(model="per", task="inertia:o2z", epochs=7)
    trainer = SimpleNamespace(progress=True, config=config, epoch=2)
    bar = Trainer._progress_bar(trainer)
    assert (bar.total, bar.n, bar.desc) == (7, 2, "per on inertia:o2z")
    assert bar.leave is False
    bar.close()
    assert Trainer._progress_bar(SimpleNamespace(progress=False)) is None


def test_the_grid_bar_counts_runs(monkeypatch, tmp_path):
    pytest.importorskip("tqdm")
    terminal = _on_terminal(monkeypatch)
    run_grid([], tmp_path, progress=True)
    assert "runs:" in terminal.getvalue()


def test_the_waymo_bar_counts_shard_bytes(monkeypatch, tmp_path):
    pytest.importorskip("tqdm")
    terminal = _on_terminal(monkeypatch)
    shard = tmp_path / "a.tfrecord"
    shard.write_bytes(bytes(2048))
    with waymo._progress_bar({"train": [shard, tmp_path / "missing"]}) as update:
        assert update is not None
        update(1024)
    drawn = terminal.getvalue()
    assert "shards:" in drawn and "0.00/2.05k" in drawn  # 2048 bytes in all


@pytest.mark.usefixtures("without_tqdm")
def test_the_users_draw_nothing_without_tqdm(monkeypatch, tmp_path):
    _on_terminal(monkeypatch)
    trainer = SimpleNamespace(progress=True, config=TrainConfig(epochs=7), epoch=0)
    assert Trainer._progress_bar(trainer) is None
    with waymo._progress_bar([tmp_path / "missing"]) as update:
        assert update is None
    assert run_grid([], tmp_path, progress=True).results == []
