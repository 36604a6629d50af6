"""Cost of the orbit penalty per training step, for any model (issue 18, item 4).

One Adam step of a plain MLP (inertia shapes: 5V0+5V -> V2, batch 500, width 384,
3 hidden layers, as the converged preset's MLP) with no penalty, with the orbit
penalty on every row (4 groups x 4 elements: 16 transformed copies of the batch),
and with the penalty reading `rows = 1/(3*4*4)` of the batch, reusing the
loss's forward and drawing group elements 64 steps at a time
(`OrbitPenalty(rows=..., pool=64, fx=...)`, what `softeq.fit` trains with).
Blocks of the three steps are interleaved; the table gives the median ms/step and each
ratio to the unpenalised step (median over rounds of the ratio within a round). Never
asserts.

    python benchmarks/bench_orbit.py [--steps 20] [--blocks 7] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

from softeq.groups import get
from softeq.nn.models import MLP
from softeq.regularizers import OrbitPenalty
from softeq.reps import parse

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def make_step(
    model: torch.nn.Module, x: Tensor, y: Tensor, rows: float | None, penalised: bool
) -> Callable[[], None]:
    """One full training step: forward, MSE, penalty (if any), backward, update."""
    rep_in, rep_out = parse("5*V0+5*V", get("O3")), parse("V2", get("O3"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    penalty = OrbitPenalty(model, rep_in, rep_out, CANDIDATES, n_samples=4, rows=rows,
                           pool=1 if rows is None else 64)  # fmt: skip
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        prediction = model(x)
        loss = (prediction - y).square().mean()
        if penalised:
            terms = penalty(x, gen, fx=prediction)
            loss = loss + sum(terms.values())
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per block")
    parser.add_argument("--blocks", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rep_in, rep_out = parse("5*V0+5*V", get("O3")), parse("V2", get("O3"))
    x = torch.randn(args.batch, rep_in.dim)
    y = torch.randn(args.batch, rep_out.dim)
    share = 1.0 / (3 * len(CANDIDATES) * 4)
    steps = {
        "no penalty": make_step(MLP(rep_in, rep_out, ch=384), x, y, None, False),
        "orbit, every row": make_step(MLP(rep_in, rep_out, ch=384), x, y, None, True),
        f"orbit, rows={share:.4g} (softeq.fit)": make_step(
            MLP(rep_in, rep_out, ch=384), x, y, share, True
        ),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    for step in steps.values():  # warm up
        step()
    for _ in range(args.blocks):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append(1000 * (time.perf_counter() - start) / args.steps)
    base = times["no penalty"]
    print(f"batch {args.batch}, MLP width 384, 4 groups x 4 elements, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print("| step | ms/step (median) | ratio to no penalty |")
    print("|---|---|---|")
    for name, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(f"| {name} | {statistics.median(values):.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
