"""Train the PER network with one penalty per candidate group, in a plain loop.

Data: the reference's "modified inertia" task with O(2) symmetry about the z axis
only: y = I(x) diag(1, 1, 0), I = sum_i m_i (|r_i|^2 I - r_i r_i^T), 5 masses and
5 positions (rep 5V0+5V -> V2). Candidates: O3, O2x, O2y, O2z; as in the reference,
the largest group O3 gets strength 0 and the three O(2)'s one fixed strength (the
automatic, per-group tuning of the strengths is a separate component).

Prints test MSE of SoftEMLP (PER) and an MLP, then each group's normalised weight
residual and relative equivariance error on held-out inputs: the smallest belong
to O2z, the symmetry the data has.

    python examples/soft_penalty_training.py [--epochs 300] [--fast-dev-run]
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor, nn

from softeq.groups import get
from softeq.metrics import equivariance_error, weight_residuals
from softeq.nn.models import build
from softeq.regularizers import ProjectionPenalty
from softeq.reps import parse

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]


def inertia_o2z(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Masses and positions -> inertia tensor times diag(1, 1, 0), flattened."""
    x = torch.randn(n, 20, generator=generator)
    m, r = nn.functional.softplus(x[:, :5]), x[:, 5:].reshape(n, 5, 3)
    eye = torch.eye(3)
    inertia = (
        m[:, :, None, None]
        * (
            r.square().sum(-1)[:, :, None, None] * eye
            - r[..., :, None] * r[..., None, :]
        )
    ).sum(1)
    return x, (inertia @ torch.diag(torch.tensor([1.0, 1.0, 0.0]))).reshape(n, 9)


def train(model: nn.Module, data, epochs: int, strength: float) -> float:
    (x, y), (x_test, y_test) = data
    penalty = ProjectionPenalty(model) if strength else None
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(250):
            opt.zero_grad()
            loss = (model(x[batch]) - y[batch]).square().mean()
            if penalty is not None:
                terms = penalty()
                loss = loss + strength * sum(terms[g] for g in CANDIDATES[1:])
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        return float((model(x_test) - y_test).square().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--strength", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast-dev-run", action="store_true", help="2 epochs, tiny")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    n_train = 100 if args.fast_dev_run else 1000
    data = (inertia_o2z(n_train, gen), inertia_o2z(1000, gen))
    epochs = 2 if args.fast_dev_run else args.epochs
    ch = 16 if args.fast_dev_run else 128
    G = get("O3")
    rep_in, rep_out = parse("5*V0+5*V", G), parse("V2", G)
    models = {
        "PER (SoftEMLP)": build(
            "per", rep_in, rep_out, CANDIDATES, ch=ch, generator=gen
        ),
        "MLP": build("mlp", rep_in, rep_out, CANDIDATES, ch=ch, generator=gen),
    }
    for name, model in models.items():
        strength = args.strength if name.startswith("PER") else 0.0
        mse = train(model, data, epochs, strength)
        print(f"{name:>15}: test MSE {mse:.4f} ({model.num_parameters():,} parameters)")
    per = models["PER (SoftEMLP)"]
    residuals = weight_residuals(per)
    x_test = data[1][0][:200]
    print("\nPER per candidate group (lower = closer to equivariant):")
    print("  group  weight residual  equivariance error")
    for g in CANDIDATES:
        sampler = torch.Generator().manual_seed(1)
        err = equivariance_error(
            per, rep_in, rep_out, get(g), x_test, n_samples=8, generator=sampler
        )
        print(f"  {g:>5}  {residuals[g]['total']:15.4f}  {err:18.4f}")


if __name__ == "__main__":
    main()
