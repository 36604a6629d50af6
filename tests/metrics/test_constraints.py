"""Which groups a model declares it respects, and what a constraint covers."""

from __future__ import annotations

from torch import nn

from softeq.groups import get
from softeq.metrics import constraint_on, model_constraints
from softeq.nn.models import MLP, RPPEMLP
from softeq.regularizers import FrameAveraged, GroupAugmentation, GroupAveraged
from softeq.reps import parse

G = get("O3")


def _named(model) -> list[tuple[str, str]]:
    return [(g.name, how) for g, how in model_constraints(model)]


def test_wrappers_and_hard_models_declare_their_group():
    rep_in, rep_out = parse("3*V", G), parse("V0", G)
    mlp = MLP(rep_in, rep_out, ch=8, num_layers=1)
    assert _named(mlp) == []  # a plain MLP respects nothing by construction
    assert _named(nn.Sequential(GroupAugmentation(mlp, "O2z", rep_in, rep_out))) == [
        ("O2z", "trained with augmentation by O2z")
    ]
    assert _named(GroupAveraged(mlp, "SO3", rep_in, rep_out)) == [
        ("SO3", "averaged over SO3")
    ]
    assert _named(FrameAveraged(mlp, rep_in, rep_out)) == [
        ("O3", "frame-averaged over O3")
    ]
    oracle = RPPEMLP(rep_in, rep_out, "O3", free_group="O2z", ch=8, num_layers=1)
    assert _named(oracle) == [("O2z", "both paths O2z-equivariant (RPP)")]
    plain = RPPEMLP(rep_in, rep_out, "O3", ch=8, num_layers=1)
    assert _named(plain) == []  # its free path respects nothing
    assert model_constraints(lambda x: x) == []  # not a module: nothing declared


def test_a_constraint_covers_its_subgroups_only():
    declared = [(get("O3"), "hard")]
    assert constraint_on(get("O3"), declared) == "hard"
    assert constraint_on(get("O2z"), declared) == "hard, which contains O2z"
    assert constraint_on(get("SO3"), declared) == "hard, which contains SO3"
    assert constraint_on(get("O3"), [(get("O2z"), "aug")]) is None
    assert constraint_on(get("O2x"), [(get("O2z"), "aug")]) is None
    assert constraint_on(get("O2z"), []) is None
