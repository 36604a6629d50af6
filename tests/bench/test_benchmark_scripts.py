"""Every script in benchmarks/ still imports, and the epoch benchmark still runs.

The scripts import parts of softeq that may move; nothing else runs them in CI.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

_DIR = Path(__file__).parents[2] / "benchmarks"
_SCRIPTS = sorted(_DIR.glob("*.py"))


@pytest.mark.parametrize("path", _SCRIPTS, ids=[p.stem for p in _SCRIPTS])
def test_script_imports(path, monkeypatch):
    monkeypatch.syspath_prepend(str(_DIR))  # scripts import their neighbours
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"


def test_epoch_benchmark_prints_its_row():
    result = subprocess.run(
        [sys.executable, str(_DIR / "bench_epoch.py"), "--epochs", "1",
         "--threads", "1"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    row = result.stdout.strip().splitlines()[-1]
    assert row.startswith("| 1 | ") and row.endswith(">= 100x |"), row
