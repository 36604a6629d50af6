"""Shared by the reliability tests: the CLI's error contract, subprocess runs of
the `softeq` command, and the counters reported at the end of the session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, settings

#: Filled by the tests, printed by `conftest.pytest_terminal_summary`.
COUNTS: Counter[str] = Counter()

#: Reproducible hypothesis runs: the same examples on every machine, no database.
SETTINGS = dict(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# `python -c` entry point equivalent to the `softeq` console script, with
# matplotlib hidden: plots are an optional extra and cost seconds per run.
_ENTRY = (
    "import sys; sys.modules['matplotlib'] = None; "
    "from softeq.cli import main; sys.exit(main())"
)


@contextmanager
def one_thread() -> Iterator[None]:
    """One torch thread: the machine is shared, and one thread is fastest there."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def without_plots() -> Iterator[None]:
    """Runs as if matplotlib were missing (plots are an optional extra, and cost
    seconds per run); every file the reliability tests compare is still written."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "softeq.train._plots", None)  # import -> ImportError
        yield


def hypothesis_settings(max_examples: int) -> Any:
    """`settings(**SETTINGS, max_examples=...)` as a decorator."""
    return settings(**SETTINGS, max_examples=max_examples)


def count(kind: str, n: int = 1) -> None:
    """Add `n` to the session counter `kind` (inputs, kills, corrupted)."""
    COUNTS[kind] += n


def assert_one_line_error(code: int, err: str, *needles: str, exit_code: int = 2):
    """The CLI's contract: exit code, one `softeq: error:` line, no traceback."""
    lines = err.strip().splitlines()
    assert code == exit_code, f"exit code {code}, stderr: {err!r}"
    assert len(lines) == 1, f"expected one stderr line, got {err!r}"
    assert lines[0].startswith("softeq: error: "), lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def subprocess_env(cache: Path | None = None) -> dict[str, str]:
    """One thread (fast on a shared machine, same numbers in every run)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if cache is not None:
        env["SOFTEQ_CACHE_DIR"] = str(cache)
    return env


def run_softeq(
    args: list[str], *, timeout: float = 120, cache: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `softeq ARGS` in a fresh interpreter; never hangs past `timeout`."""
    return subprocess.run(
        [sys.executable, "-c", _ENTRY, *args], capture_output=True, text=True,
        timeout=timeout, env=subprocess_env(cache), check=False,
    )  # fmt: skip


def start_softeq(args: list[str], *, cache: Path | None = None) -> subprocess.Popen:
    """Start `softeq ARGS` in the background (stdout and stderr discarded)."""
    return subprocess.Popen(
        [sys.executable, "-c", _ENTRY, *args], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=subprocess_env(cache),
    )  # fmt: skip


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen, *, timeout: float = 120
) -> None:
    """Poll `condition` every 2 ms while `proc` runs; fail on exit or timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"process exited early ({proc.returncode})"
        assert time.monotonic() < deadline, "timed out waiting for the process"
        time.sleep(0.002)


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def assert_same_state(a: Any, b: Any, where: str = "checkpoint") -> None:
    """Bit-identical nested checkpoint contents: `torch.equal` on every tensor."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), f"tensors differ at {where}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
