"""Reliability tests run single-threaded and report what they tried."""

from __future__ import annotations

import pytest

from tests.reliability._helpers import COUNTS, one_thread, without_plots


@pytest.fixture(autouse=True)
def _one_thread_no_plots():
    with one_thread(), without_plots():
        yield


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path, monkeypatch):
    """A run that forgets `--out` writes `runs/` here, not into the checkout."""
    monkeypatch.chdir(tmp_path)


def pytest_terminal_summary(terminalreporter) -> None:
    if COUNTS:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
        terminalreporter.write_line(f"softeq reliability: {parts}")
