"""Every example runs end to end with --fast-dev-run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script):
    result = subprocess.run(
        [sys.executable, str(script), "--fast-dev-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_core_demo_finds_the_built_in_symmetry():
    script = next(p for p in EXAMPLES if p.stem == "symmetry_core_demo")
    out = subprocess.run(
        [sys.executable, str(script), "--fast-dev-run"], capture_output=True, text=True
    ).stdout
    assert "Closest symmetry: O2z" in out
    assert "550/4840" in out


def test_own_motion_data_example_finds_the_vertical_axis():
    """Full run (about 10 s): balls under gravity along z are O(2)_z-symmetric,
    and PER's forecast beats constant velocity."""
    script = next(p for p in EXAMPLES if p.stem == "own_motion_data")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    ).stdout
    assert "Most symmetric: O2z" in out
    found = re.search(r"PER ([0-9.]+) m, constant velocity ([0-9.]+) m", out)
    assert found is not None, out
    assert float(found[1]) < float(found[2])


def test_symmetry_cost_example_finds_o2z_and_averaging_helps():
    """A short run (about 10 s): even a plain MLP's report, on its 2000 held-out
    pairs, calls O2z exact with confidence, and averaging the MLP over it lowers
    the test MSE."""
    script = next(p for p in EXAMPLES if p.stem == "symmetry_cost_any_model")
    out = subprocess.run(
        [sys.executable, str(script), "--epochs", "60"],
        capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    assert "Exact: O2z. Approximate: none. Broken:" in out, out
    found = re.search(r"test MSE ([0-9.]+) \(was ([0-9.]+)\)", out)
    assert found is not None, out
    assert float(found[1]) < float(found[2])


@pytest.mark.slow
def test_fit_particle_set_example_imposes_o2z():
    """The DeepSets example at its default budget (about a minute): the evidence
    calls O2z exact, the plan imposes it and ignores the broken groups."""
    script = next(p for p in EXAMPLES if p.stem == "fit_particle_set")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    ).stdout
    assert "  O2z: impose (augmentation by O2z" in out, out
    for name in ("O3", "O2x", "O2y"):
        assert f"  {name}: ignore" in out, out
