"""Regenerate ``src/softeq/data/datasets/orbits.npz`` from the JPL DE421 ephemeris.

Downloads the ``de421`` package (the DE421 Chebyshev coefficients as ``.npy`` files)
and ``jplephem`` (the evaluator) with ``pip download --no-deps`` into a temporary
folder and imports them from there: neither is installed into the environment, and
neither is a dependency of softeq. Then, every 10 days (TDB) from 1900-01-01 to
2050-01-01, it evaluates the nine planetary barycentres (Mercury ... Pluto; for the
Earth the Earth-Moon barycentre) minus the Sun, converts km to AU (IAU 2012:
1 AU = 149 597 870.7 km) and rotates the ICRF equatorial axes to the J2000 ecliptic
(obliquity 84381.448 arcsec about x), so that the orbits lie near the plane z = 0.

Usage (from the repository root)::

    .venv/bin/python scripts/make_orbits.py
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGES = ("de421==2008.1", "jplephem==2.24")
OUT = Path(__file__).parents[1] / "src/softeq/data/datasets/orbits.npz"
BODIES = ("mercury", "venus", "earthmoon", "mars", "jupiter", "saturn", "uranus",
          "neptune", "pluto")  # fmt: skip
START_JD = 2415020.5  # 1900-01-01 00:00 TDB
END_JD = 2469807.5  # 2050-01-01 00:00 TDB
STEP_DAYS = 10.0
AU_KM = 149_597_870.7
OBLIQUITY = np.deg2rad(84381.448 / 3600.0)  # mean obliquity of the ecliptic, J2000


def equatorial_to_ecliptic() -> np.ndarray:
    """Rotation `(3, 3)` from ICRF equatorial to J2000 ecliptic coordinates."""
    c, s = np.cos(OBLIQUITY), np.sin(OBLIQUITY)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def download(folder: Path) -> None:
    """`pip download` de421 and jplephem (no dependencies) into `folder`."""
    cmd = [sys.executable, "-m", "pip", "download", *PACKAGES, "--no-deps",
           "-d", str(folder)]  # fmt: skip
    subprocess.run(cmd, check=True)


def load_ephemeris(folder: Path):
    """Import jplephem and de421 from the downloads in `folder`; the ephemeris."""
    for archive in folder.iterdir():
        if archive.name.endswith(".whl"):
            sys.path.insert(0, str(archive))  # a pure-Python wheel imports as a zip
        elif archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as tar:
                tar.extractall(folder, filter="data")
            sys.path.insert(0, str(folder / archive.name[: -len(".tar.gz")]))
    ephem = importlib.import_module("jplephem.ephem")
    return ephem.Ephemeris(importlib.import_module("de421"))


def heliocentric(ephemeris, times: np.ndarray) -> np.ndarray:
    """Ecliptic heliocentric positions `(len(times), 9, 3)` in AU."""
    sun = ephemeris.position("sun", times)  # (3, n) km from the barycentre
    planets = [ephemeris.position(b, times) - sun for b in BODIES]
    km = np.stack(planets, axis=0).transpose(2, 0, 1)  # (n, 9, 3)
    return (km / AU_KM) @ equatorial_to_ecliptic().T


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    times = np.arange(START_JD, END_JD + 0.5, STEP_DAYS)
    with tempfile.TemporaryDirectory() as tmp:
        download(Path(tmp))
        positions = heliocentric(load_ephemeris(Path(tmp)), times)
    arrays = {
        "positions": positions.astype(np.float32),
        "start_jd": np.array(START_JD),
        "step_days": np.array(STEP_DAYS),
        "bodies": np.array(BODIES),
        "units": np.array("AU"),
        "vertical_axis": np.array(-1),
        "frame": np.array("heliocentric, J2000 ecliptic (z = ecliptic north pole)"),
        "source": np.array("JPL DE421 via " + ", ".join(PACKAGES)),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buffer.getvalue())
    print(f"wrote {args.out}: {len(times)} epochs every {STEP_DAYS:g} days, "
          f"{len(BODIES)} bodies")  # fmt: skip


if __name__ == "__main__":
    main()
