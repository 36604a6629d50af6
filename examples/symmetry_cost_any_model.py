"""Ask the data which symmetries hold, with any trained model, then use the answer.

A plain MLP (no equivariance anywhere) is trained on the reference's inertia task
with O(2) symmetry about the z axis (`inertia:o2z`). The symmetry report then
measures, per candidate group, the *breaking*: how much the test MSE grows when the
model predicts through a random group element, rho_out(g)^-1 f(rho_in(g) x), as a
share of twice the targets' variance, with a 95 % interval. An exact symmetry of the
data costs nothing in expectation even though the MLP itself is far from
equivariant, so O2z reads "exact" (or "undetermined" if the interval is too wide to
tell) and the others "broken". The report also says how many of the inputs each
group moves leave the data ("outside data": 5 % by chance here, since the task's
inputs are Gaussian; above 25 % the breaking would measure the MLP's extrapolation
and the report would judge nothing).
Averaging the MLP over the group the report calls exact (`GroupAveraged`) then
lowers its test MSE.

    python examples/symmetry_cost_any_model.py [--epochs 300] [--fast-dev-run]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from softeq.data import get_task
from softeq.groups import get
from softeq.metrics import summary_line, symmetry_report
from softeq.regularizers import GroupAveraged


def train_mlp(task, epochs: int, generator: torch.Generator) -> nn.Module:
    """A two-hidden-layer MLP fitted by full-batch Adam."""
    x, y = task.x_train, task.y_train
    model = nn.Sequential(
        nn.Linear(x.shape[1], 256), nn.SiLU(), nn.Linear(256, 256), nn.SiLU(),
        nn.Linear(256, y.shape[1]),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(250):
            loss = (model(x[idx]) - y[idx]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--fast-dev-run", action="store_true", help="3 epochs")
    args = parser.parse_args()
    epochs = 3 if args.fast_dev_run else args.epochs
    torch.manual_seed(0)
    task = get_task("inertia:o2z")
    model = train_mlp(task, epochs, torch.Generator().manual_seed(0))
    rep_in, rep_out = task.reps()
    # every pair the MLP never saw: validation and test (it selects nothing on
    # validation), for the narrowest intervals
    x_held = torch.cat([task.x_val, task.x_test])
    y_held = torch.cat([task.y_val, task.y_test])
    report = symmetry_report(model, rep_in, rep_out, task.groups, x_held, y=y_held,
                             truth=task.truth)  # fmt: skip
    with torch.no_grad():
        test_mse = float((model(task.x_test) - task.y_test).square().mean())
    print(f"MLP on {task.name}, {epochs} epochs: test MSE {test_mse:.4g}")
    print(f"{'group':<6} {'truth':>7} {'verdict':>12} {'breaking [95 % interval]':>26} "
          f"{'outside data':>13} {'equivariance error':>19}")  # fmt: skip
    for e in report["groups"]:
        interval = (f"{e['breaking']:+.3f} [{e['breaking_low']:+.3f}, "
                    f"{e['breaking_high']:+.3f}]")  # fmt: skip
        print(f"{e['name']:<6} {e['truth']:>7} {e['verdict']:>12} {interval:>26} "
              f"{e['outside_data']:13.0%} {e['equivariance_error']:19.3f}")  # fmt: skip
        if e["to_decide"]:
            print(f"       undetermined: {e['to_decide']}")
    print(summary_line(report).replace("**", ""))
    top = report["groups"][0]
    if top["verdict"] == "exact":
        gen = torch.Generator().manual_seed(1)  # other elements than the report's
        averaged = GroupAveraged(
            model, get(top["name"]), rep_in, rep_out, generator=gen
        )
        with torch.no_grad():
            mse = float((averaged(task.x_test) - task.y_test).square().mean())
        print(f"MLP averaged over {top['name']}: test MSE {mse:.4g} "
              f"(was {test_mse:.4g})")  # fmt: skip


if __name__ == "__main__":
    main()
