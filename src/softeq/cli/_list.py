"""`softeq list`: what can be trained."""

from __future__ import annotations

import argparse

from ..bench import SUITES
from ..data import get_task, task_names
from ..groups import names
from ..train import MODELS, PRESETS, TUNERS


def run_list(args: argparse.Namespace) -> int:
    print("tasks:   " + ", ".join(task_names()))
    print("         motion:PATH.npz[:scale-aware][:residual] (your motion data)")
    print("models:  " + ", ".join(MODELS))
    print("presets: " + ", ".join(PRESETS))
    print("tuners:  " + ", ".join(TUNERS))
    print("groups:  " + ", ".join(names()) + " (any n in O<n>, SO<n>, S<n>, ...)")
    print("suites:  " + ", ".join(SUITES) + " (softeq bench SUITE)")
    if not getattr(args, "truth", False):
        print("truth:   softeq list --truth (each synthetic task's measured truth)")
        return 0
    print(
        "truth:   per candidate, label (breaking: the share of Var(y) that moving by "
        "the group adds, measured on the ground truth; exact < 0.01 <= approximate "
        "< 0.25 <= broken)"
    )
    for name in task_names():
        task = get_task(name)
        if task.true_breaking is None:
            continue
        cells = ", ".join(
            f"{g} {task.truth[g]} ({task.true_breaking[g]:.3f})" for g in task.groups
        )
        print(f"  {name}: {cells}")
    return 0
