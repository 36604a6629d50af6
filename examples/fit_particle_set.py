"""`softeq.fit` with a model that is not an MLP: a permutation-invariant set network.

The inputs of the inertia task are five particles, each a mass and a position
(`5*V0+5*V`); the target is a modified inertia tensor (`V2`). A DeepSets network,
$f(x) = \\rho(\\sum_i \\phi(m_i, r_i))$, is invariant to the order of the
particles by construction but knows nothing about rotations. `softeq.fit` is told
only the candidate rotation groups (O3 and the O(2)'s about x, y and z): it
trains the network unpenalised for evidence, reads on validation data which groups
the data respect, trains on with orbit penalties whose strengths follow that
evidence, and imposes the largest exact group by augmentation (and averaging),
keeping whichever model fits the validation data best. The plan says what it did
with each group and why.

    python examples/fit_particle_set.py [--task inertia:o2z] [--epochs 60]
                                        [--fast-dev-run]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import softeq
from softeq.data import get_task


class ParticleSet(nn.Module):
    """DeepSets over the 5 particles: $\\rho(\\sum_i \\phi(m_i, r_i))$."""

    def __init__(self, width: int = 128, n_particles: int = 5) -> None:
        super().__init__()
        self.n = n_particles
        self.phi = nn.Sequential(nn.Linear(4, width), nn.SiLU(),
                                 nn.Linear(width, width))  # fmt: skip
        self.rho = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, 9))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        masses = x[:, : self.n, None]
        positions = x[:, self.n :].reshape(-1, self.n, 3)
        particles = torch.cat([masses, positions], dim=-1)
        return self.rho(self.phi(particles).sum(dim=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="inertia:o2z")
    parser.add_argument("--epochs", type=int, default=60, help="epochs per stage")
    parser.add_argument("--fast-dev-run", action="store_true", help="2 epochs")
    args = parser.parse_args()
    epochs = 2 if args.fast_dev_run else args.epochs

    torch.manual_seed(0)
    task = get_task(args.task)  # we use its arrays only, not its known truth
    result = softeq.fit(
        task.x_train, task.y_train, rep_in=task.rep_in, rep_out=task.rep_out,
        groups=list(task.groups), model=ParticleSet(), x_val=task.x_val,
        y_val=task.y_val, x_test=task.x_test, y_test=task.y_test,
        preset="fast", epochs=epochs,
    )  # fmt: skip
    print(f"chosen model: {result.chosen}")
    for choice in result.plan:
        how = f" ({choice.via})" if choice.via else ""
        print(f"  {choice.name}: {choice.action}{how} -- {choice.reason}")
    mses = ", ".join(f"{k} {v:.3g}" for k, v in result.val_mse.items())
    print(f"validation MSE per candidate: {mses}")
    print(f"test MSE {result.test_mse:.3f}")


if __name__ == "__main__":
    main()
