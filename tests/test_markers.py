"""`make test` skips the `slow` and `gpu` tests; `make test-all` runs them."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _marker_option(args: list[str]) -> str | None:
    """The expression of the last ``-m`` in `args` (pytest keeps the last one)."""
    found = None
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "-m":
            found = value
    return found


def test_default_run_deselects_slow_and_gpu():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pytest_config = config["tool"]["pytest"]["ini_options"]
    addopts = shlex.split(pytest_config["addopts"])
    assert _marker_option(addopts) == "not slow and not gpu"
    declared = {m.split(":")[0] for m in pytest_config["markers"]}
    assert {"slow", "gpu"} <= declared


def test_make_test_all_runs_every_marker():
    makefile = (ROOT / "Makefile").read_text()
    recipes = re.findall(r"^(test|test-all):.*\n\t(.+)$", makefile, flags=re.M)
    commands = {}
    for target, line in recipes:
        args = shlex.split(line)
        commands[target] = args[args.index("pytest") + 1 :]  # after python -m pytest
    assert _marker_option(commands["test"]) is None  # the default: not slow, not gpu
    assert _marker_option(commands["test-all"]) == ""  # overrides it: everything
