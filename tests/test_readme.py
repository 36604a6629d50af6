"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 2, "README: the own-model example, then the projectors"
    return blocks


def run(code: str, capsys) -> list[str]:
    exec(compile(code, "README.md", "exec"), {})
    return capsys.readouterr().out.splitlines()


def test_readme_projector_example_runs(capsys):
    out = run(python_blocks()[1], capsys)
    assert [line.split()[0] for line in out] == ["O3", "O2x", "O2y", "O2z"]
    assert [int(line.split()[1]) for line in out] == [5, 30, 30, 30]


def test_readme_own_model_example_runs_short(capsys):
    """The own-model loop as written, cut to 6 epochs with the tuner at 3."""
    code = python_blocks()[0]
    assert "range(400)" in code and "adjust_at=100" in code
    code = code.replace("range(400)", "range(6)")
    code = code.replace("adjust_at=100", "adjust_at=3")
    out = run(code, capsys)
    assert len(out) == 1 and out[0].startswith("test MSE ")
    assert "**Exact:**" in out[0]


@pytest.mark.slow
def test_readme_own_model_example_finds_o2z(capsys):
    """The whole example (about 30 s): its printed claim holds."""
    (line,) = run(python_blocks()[0], capsys)
    assert "**Exact:** O2z. **Approximate:** none. **Broken:** O2x, O2y, O3." in line
    assert 2.0 < float(line.split()[2]) < 3.0
