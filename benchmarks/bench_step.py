"""Training-step cost of every model on the inertia shapes (batch 500, ch=128).

One Adam step = forward, MSE, penalties (if any), weight decay, backward, update.
Reports the median ms/step over blocks of steps (blocks of all models interleaved),
parameter counts, the peak memory of one step, and the ratios (median over rounds of
the ratio within a round)
that SPEC §6 and issue #3 target, measured in one run. Never asserts.

    python benchmarks/bench_step.py [--steps 20] [--blocks 5] [--threads N]
                                    [--device cpu|cuda] [--batch 500]
                                    [--cuda-graphs]

On cuda the timings synchronise the device around each block, and peak memory is
`torch.cuda.max_memory_allocated` over one step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

from softeq.groups import get
from softeq.nn.models import MLP, build
from softeq.regularizers import ProjectionPenalty
from softeq.reps import parse
from softeq.train import GraphedForward

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def make_step(
    model: nn.Module, penalised: bool, x: Tensor, y: Tensor, graphs: bool = False
) -> Callable:
    """A closure doing one full training step of `model` (its forward and backward
    replayed from CUDA graphs when `graphs`, as `TrainConfig.cuda_graphs`)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as softeq.train
    forward = GraphedForward(model, x) if graphs else model
    penalty = ProjectionPenalty(model) if penalised else None
    strengths = {name: 100.0 for name in CANDIDATES[1:]}  # reference: G0 gets 0

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = (forward(x) - y).square().mean()
        if penalty is not None:
            terms = penalty()
            loss = loss + sum(strengths[k] * terms[k] for k in strengths)
        loss.backward()
        opt.step()

    return step


def interleaved_times(
    steps: dict[str, Callable], n_steps: int, blocks: int, sync: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds per step of every closure in each of `blocks` rounds; within a
    round the models run one block each, back to back, so that drift in machine
    speed affects every model of a round alike."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(blocks):
        for name, step in steps.items():
            sync()
            start = time.perf_counter()
            for _ in range(n_steps):
                step()
            sync()
            times[name].append((time.perf_counter() - start) / n_steps)
    return times


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def paired_ratio(times: dict[str, list[float]], top: str, bottom: str) -> float:
    """Median over rounds of `top`'s time over `bottom`'s in the same round: less
    sensitive to a slow round than the ratio of the two medians."""
    return median([a / b for a, b in zip(times[top], times[bottom], strict=True)])


def peak_memory_mb(step: Callable, device: torch.device) -> float | None:
    """Peak memory (MB) of the tensors alive during one step (parameters,
    gradients, optimiser state, activations, temporaries): on cuda the allocator's
    peak, on the CPU from torch's profiler memory timeline; None where this torch
    build lacks that (private) API."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / 1e6
    try:
        from torch.profiler import profile
        from torch.profiler._memory_profiler import MemoryProfileTimeline

        with (
            _quiet_stderr(),
            profile(profile_memory=True, record_shapes=True, with_stack=True) as p,
        ):
            step()
        timeline = MemoryProfileTimeline(p._memory_profile())
        _, sizes = timeline._coalesce_timeline(torch.device("cpu"))
        return max(sum(row) for row in sizes) / 1e6
    except Exception:  # noqa: BLE001 - a missing private API only drops a column
        return None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's C++ log lines (file descriptor 2) for a moment."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--cuda-graphs", action="store_true", help="replay forward and backward"
    )
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    if args.cuda_graphs and args.device != "cuda":
        parser.error("--cuda-graphs needs --device cuda")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
    x = torch.randn(args.batch, rep_in.dim, generator=gen).to(device)
    y = torch.randn(args.batch, rep_out.dim, generator=gen).to(device)

    models = {
        "MLP (ch 128)": (MLP(rep_in, rep_out, ch=128), False),
        "MLP (width 242, as SoftEMLP)": (MLP(rep_in, rep_out, ch=242), False),
        "EMLP O3 (ch 128)": (build("emlp", rep_in, rep_out, CANDIDATES), False),
        "RPP O3 (ch 89)": (build("rpp", rep_in, rep_out, CANDIDATES), False),
        "SoftEMLP, no penalty": (build("per", rep_in, rep_out, CANDIDATES), False),
        "SoftEMLP + 4 group penalties": (
            build("per", rep_in, rep_out, CANDIDATES), True,
        ),
    }  # fmt: skip
    steps = {
        name: make_step(model.to(device), penalised, x, y, args.cuda_graphs)
        for name, (model, penalised) in models.items()
    }

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    rounds = interleaved_times(steps, args.steps, args.blocks, sync)
    times = {name: 1e3 * median(ts) for name, ts in rounds.items()}
    rows = [
        (name, model.num_parameters(), times[name], peak_memory_mb(steps[name], device))
        for name, (model, _) in models.items()
    ]
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{torch.get_num_threads()} thread(s)"
    )
    graphs = ", CUDA graphs" if args.cuda_graphs else ""
    print(f"torch {torch.__version__}, {where}, batch {args.batch}{graphs}")
    print("| model | parameters | ms/step | peak MB/step |")
    print("|---|---|---|---|")
    for name, n, ms, mb in rows:
        peak = "n/a" if mb is None else f"{mb:.1f}"
        print(f"| {name} | {n:,} | {ms:.1f} | {peak} |")
    soft = "SoftEMLP, no penalty"
    pen = paired_ratio(rounds, "SoftEMLP + 4 group penalties", soft)
    wide = paired_ratio(rounds, soft, "MLP (width 242, as SoftEMLP)")
    print(f"\npenalised / unpenalised SoftEMLP: {pen:.2f} (target <= 1.15)")
    print(f"SoftEMLP / MLP of the same width: {wide:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
