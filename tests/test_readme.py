"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 3, "README: softeq.fit, the own-model loop, the projectors"
    return blocks


def run(code: str, capsys) -> list[str]:
    exec(compile(code, "README.md", "exec"), {})
    return capsys.readouterr().out.splitlines()


def test_readme_fit_example_runs_short(capsys, tmp_path, monkeypatch):
    """`softeq.fit` as written, cut to 2 epochs per stage."""
    code = python_blocks()[0]
    assert "softeq.fit(" in code and 'fit.save("fit.pt")' in code
    code = code.replace("groups=[", 'preset="fast", epochs=2, groups=[')
    monkeypatch.chdir(tmp_path)
    out = run(code, capsys)
    assert [line.split()[0] for line in out[:4]] == ["O3", "O2x", "O2y", "O2z"]
    assert out[4].startswith("chosen: ") and (tmp_path / "fit.pt").is_file()


@pytest.mark.slow
def test_readme_fit_example_imposes_o2z(capsys, tmp_path, monkeypatch):
    """The whole example (converged, about a minute): its claims hold."""
    monkeypatch.chdir(tmp_path)
    out = run(python_blocks()[0], capsys)
    assert out[3].startswith("O2z impose augmentation by O2z")
    assert all(line.split()[1] == "ignore" for line in out[:3])
    assert out[4].startswith("chosen: impose")


def test_readme_projector_example_runs(capsys):
    out = run(python_blocks()[2], capsys)
    assert [line.split()[0] for line in out] == ["O3", "O2x", "O2y", "O2z"]
    assert [int(line.split()[1]) for line in out] == [5, 30, 30, 30]


def test_readme_own_model_example_runs_short(capsys):
    """The own-model loop as written, cut to 6 epochs with the tuner at 3."""
    code = python_blocks()[1]
    assert "range(400)" in code and "adjust_at=100" in code
    code = code.replace("range(400)", "range(6)")
    code = code.replace("adjust_at=100", "adjust_at=3")
    out = run(code, capsys)
    assert len(out) == 1 and out[0].startswith("test MSE ")
    assert "**Exact:**" in out[0]


@pytest.mark.slow
def test_readme_own_model_example_finds_o2z(capsys):
    """The whole example (about 30 s): its printed claim holds."""
    (line,) = run(python_blocks()[1], capsys)
    assert "**Exact:** O2z. **Approximate:** none. **Broken:** O2x, O2y, O3." in line
    assert 2.0 < float(line.split()[2]) < 3.0


def shown_commands() -> list[str]:
    """Every command line the README shows: lines of its bash blocks and inline
    code that starts with ``softeq``, ``python benchmarks/`` or ``make``."""
    text = README.read_text()
    lines = [
        line.split("#")[0].strip()
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
        for line in block.splitlines()
    ]
    lines += re.findall(r"`((?:softeq|python benchmarks/|make) [^`]*)`", text)
    starts = ("softeq ", "python benchmarks/", "make ")
    return [line for line in lines if line.startswith(starts)]


def test_every_command_the_readme_shows_is_valid():
    """softeq commands parse (and bench grids name real suites and methods),
    benchmark scripts exist and accept their flags, make targets exist."""
    import shlex
    import subprocess
    import sys

    from softeq.bench import suite_runs
    from softeq.cli import make_parser

    commands = shown_commands()
    assert any(c.startswith("softeq bench") for c in commands)
    makefile = (README.parent / "Makefile").read_text()
    for command in commands:
        words = shlex.split(command)
        if words[0] == "make":
            assert re.search(rf"^{words[1]}:", makefile, flags=re.M), command
        elif words[0] == "python":
            script = README.parent / words[1]
            assert script.is_file(), command
            help_text = subprocess.run(
                [sys.executable, str(script), "--help"], capture_output=True,
                text=True, cwd=script.parent, timeout=120,
            ).stdout  # fmt: skip
            for flag in [w for w in words[2:] if w.startswith("--")]:
                assert flag in help_text, (command, flag)
        elif "--help" not in words:
            args = make_parser().parse_args(words[1:])
            if args.command == "bench":
                methods = args.methods.split(",") if args.methods else None
                assert suite_runs(args.suite, seeds=args.seeds, methods=methods)
