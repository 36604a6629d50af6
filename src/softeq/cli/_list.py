"""`softeq list`: what can be trained."""

from __future__ import annotations

import argparse

from ..bench import SUITES
from ..data import task_names
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
    return 0
