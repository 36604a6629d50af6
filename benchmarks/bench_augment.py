"""Cost of applying group elements per sample: `Rep.act` against the dense rho(g).

Augmentation (`GroupAugmentation`, the `mlp-aug` baseline and `softeq.fit`'s
imposed stage) transforms every input and output of a batch by its own group
element. Forming the dense block-diagonal rho(g) costs `dim^2` per sample (and a
`(batch, dim, dim)` tensor to fill); `Rep.act` multiplies each tensor type's copies
by its own `k x k` block. This times one Adam step of the converged preset's MLP
(width 384, 3 hidden layers) trained with augmentation by O(3), applied either way,
on the shapes of the motion tasks (batch 64, the motion presets' batch) and of
inertia (batch 500). Blocks of the two steps are interleaved; the table gives the
median ms/step of each and their ratio. Never asserts.

    python benchmarks/bench_augment.py [--steps 20] [--blocks 5] [--threads 1]
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
from softeq.reps import Rep, parse

#: name -> (rep_in, rep_out, batch): motion residual tasks and inertia.
SHAPES = {
    "orbits:residual": ("54*V", "54*V", 64),
    "mocap:residual": ("90*V", "90*V", 64),
    "inertia": ("5*V0+5*V", "V2", 500),
}


def dense_act(rep: Rep, g: Tensor, x: Tensor) -> Tensor:
    """rho(g) x through the dense `(batch, dim, dim)` matrices (the old path)."""
    rho = rep.rho(g).to(dtype=x.dtype)
    return (rho @ x.unsqueeze(-1)).squeeze(-1)


def make_step(shape: str, dense: bool) -> Callable[[], None]:
    """One augmented Adam step: sample, transform in, forward, transform back,
    MSE, backward, update."""
    G = get("O3")
    spec_in, spec_out, batch = SHAPES[shape]
    rep_in, rep_out = parse(spec_in, G), parse(spec_out, G)
    torch.manual_seed(0)
    model = MLP(rep_in, rep_out, ch=384, num_layers=3)
    x, y = torch.randn(batch, rep_in.dim), torch.randn(batch, rep_out.dim)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    act = dense_act if dense else Rep.act

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        gs = G.sample(batch, generator=gen)
        prediction = act(rep_out, torch.linalg.inv(gs), model(act(rep_in, gs, x)))
        (prediction - y).square().mean().backward()
        opt.step()

    return step


def timed(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return 1e3 * (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per block")
    parser.add_argument("--blocks", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); MLP width 384 + "
          "augmentation by O(3), one Adam step")  # fmt: skip
    print("| shapes | batch | dense rho(g) (ms/step) | Rep.act (ms/step) | speed-up |")
    print("|---|---|---|---|---|")
    for shape, (spec_in, spec_out, batch) in SHAPES.items():
        steps = {dense: make_step(shape, dense) for dense in (True, False)}
        times: dict[bool, list[float]] = {True: [], False: []}
        for step in steps.values():
            step()  # warm-up
        for _ in range(args.blocks):
            for dense, step in steps.items():
                times[dense].append(timed(step, args.steps))
        old, new = (statistics.median(times[k]) for k in (True, False))
        print(f"| {shape} ({spec_in} -> {spec_out}) | {batch} | {old:.2f} | "
              f"{new:.2f} | {old / new:.1f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
