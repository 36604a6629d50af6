"""Where one training step of a model spends its time, by operator (torch profiler).

Prints the operators of `--steps` Adam steps (batch 500, inertia shapes, ch=128)
sorted by self time, with call counts, and the number of host-device
synchronisations and copies per step on cuda. Complements `bench_step.py`, which
times steps without the profiler's overhead. Never asserts.

    python benchmarks/profile_step.py [--model per] [--device cpu|cuda] [--steps 10]
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from bench_step import CANDIDATES, make_step
from softeq.groups import get
from softeq.nn.models import MLP, build
from softeq.reps import parse

SYNC_EVENTS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpyAsync")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="per", help="mlp, emlp, rpp or per")
    parser.add_argument("--penalised", action="store_true", help="4 group penalties")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    device = torch.device(args.device)
    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(500, rep_in.dim, generator=gen).to(device)
    y = torch.randn(500, rep_out.dim, generator=gen).to(device)
    if args.model == "mlp":
        model = MLP(rep_in, rep_out, ch=242)
    else:
        model = build(args.model, rep_in, rep_out, CANDIDATES)
    step = make_step(model.to(device), args.penalised, x, y)
    for _ in range(5):
        step()
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.synchronize(device)
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if device.type == "cuda":
        print(events.table(sort_by="self_device_time_total", row_limit=args.rows))
        for name in SYNC_EVENTS:
            count = sum(e.count for e in events if e.key == name)
            print(f"{name}: {count / args.steps:.1f} per step")
    launches = sum(e.count for e in events if e.key == "cudaLaunchKernel")
    print(f"kernel launches: {launches / args.steps:.0f} per step")


if __name__ == "__main__":
    main()
