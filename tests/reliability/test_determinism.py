"""Same seed, same machine => the same numbers: two runs of one config write
byte-identical metrics, summary and report files and equal checkpoints."""

from __future__ import annotations

import pytest

from softeq.cli import main
from softeq.train import load_checkpoint
from tests.reliability._helpers import assert_same_state

TINY = ["train", "--task", "inertia:o2z", "--model", "per", "--ch", "8",
        "--num-layers", "1", "--epochs", "6", "--batch-size", "500",
        "--eval-inputs", "4", "--eval-transforms", "2"]  # fmt: skip
FILES = ("metrics.jsonl", "summary.json", "report.json", "config.toml")


@pytest.fixture
def runs(tmp_path, capsys):
    def run(name: str, *extra: str):
        out = tmp_path / name
        assert main([*TINY, *extra, "--out", str(out)]) == 0
        capsys.readouterr()
        return out

    return run


def test_same_seed_same_files(runs):
    a, b = runs("a", "--seed", "3"), runs("b", "--seed", "3")
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert_same_state(load_checkpoint(a / "checkpoint.pt"),
                      load_checkpoint(b / "checkpoint.pt"))  # fmt: skip


def test_another_seed_other_numbers(runs):
    """Negative control: the comparison above can fail."""
    a, b = runs("a", "--seed", "3"), runs("b", "--seed", "4")
    assert (a / "metrics.jsonl").read_bytes() != (b / "metrics.jsonl").read_bytes()
