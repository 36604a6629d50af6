"""Basis solving and block projection for PER's inertia network (ch=128, 4 groups).

Network: 5V0+5V -> gated H -> gated H -> gated H -> V2 with H = 54V0+18V+6V2+2V3 and
26 gate scalars per gated layer (PER-REFERENCE §1.2). Prints a table; never asserts.

    python benchmarks/bench_basis.py [--repeats 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from softeq.basis import BlockProjector, clear_cache
from softeq.groups import get
from softeq.reps import parse

GROUPS = ["O3", "O2x", "O2y", "O2z"]
HIDDEN = "54*V0+18*V+6*V2+2*V3"
GATED = HIDDEN + "+26*V0"
LAYERS = [("5*V0+5*V", GATED), (HIDDEN, GATED), (HIDDEN, GATED), (HIDDEN, "V2")]


def build_all() -> dict[str, list[BlockProjector]]:
    out = {}
    for name in GROUPS:
        G = get(name)
        out[name] = [BlockProjector(parse(a, G), parse(b, G)) for a, b in LAYERS]
    return out


def timed(fn, repeats: int) -> float:
    """Median seconds per call over `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def projection_rows(
    projectors: dict[str, list[BlockProjector]],
    weights: list[torch.Tensor],
    dtype: torch.dtype,
    repeats: int,
) -> list[tuple[str, str, str]]:
    """Median time of projecting / penalising every layer, one and four groups."""
    ws = [w.to(dtype) for w in weights]
    projs = {n: [P.to(dtype) for P in ps] for n, ps in projectors.items()}
    pairs_one = list(zip(projs["O3"], ws, strict=True))
    pairs_all = [pw for ps in projs.values() for pw in zip(ps, ws, strict=True)]
    one = timed(lambda: [P.project(w) for P, w in pairs_one], repeats)
    every = timed(lambda: [P.project(w) for P, w in pairs_all], repeats)
    pen = timed(lambda: [P.residual(w) for P, w in pairs_all], repeats)
    tag = str(dtype).removeprefix("torch.")
    return [
        (f"project all 4 layers, 1 group, {tag} (ms)", f"{one * 1e3:.3f}", "<= 1 ms"),
        (f"project all 4 layers, 4 groups, {tag} (ms)", f"{every * 1e3:.3f}", ""),
        (f"penalty all 4 layers, 4 groups, {tag} (ms)", f"{pen * 1e3:.3f}", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # Warm up torch's linear algebra so "cold" measures basis solving, not library load.
    torch.linalg.svd(torch.randn(8, 8, dtype=torch.float64))

    clear_cache(disk=False)
    start = time.perf_counter()
    projectors = build_all()
    cold = time.perf_counter() - start
    start = time.perf_counter()
    build_all()
    warm = time.perf_counter() - start

    rows = [("build all projectors, 4 groups, cold (s)", f"{cold:.3f}", "<= 2 s")]
    rows.append(("build all projectors, 4 groups, warm (s)", f"{warm:.3f}", ""))
    gen = torch.Generator().manual_seed(0)
    weights = [
        torch.randn(P.rep_out.dim, P.rep_in.dim, generator=gen)
        for P in projectors["O3"]
    ]
    for dtype in (torch.float32, torch.float64):
        rows += projection_rows(projectors, weights, dtype, args.repeats)

    ranks = ", ".join(
        f"{n}: " + "/".join(str(P.rank) for P in ps) for n, ps in projectors.items()
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"ranks per layer: {ranks}\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'measurement':<{width}} | value | target |")
    print(f"|{'-' * (width + 2)}|-------|--------|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value} | {target} |")


if __name__ == "__main__":
    main()
