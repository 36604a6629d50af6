"""Candidate groups may be given as `Group`s or registry names."""

from __future__ import annotations

import pytest

from softeq.groups import as_groups, get
from softeq.nn import SoftLinear
from softeq.nn.models import SoftEMLP
from softeq.reps import parse


def test_names_and_groups_mix():
    assert [g.name for g in as_groups(("O3", get("O2z")))] == ["O3", "O2z"]


@pytest.mark.parametrize("bad", ["O3", get("O3"), 3, [1.5], [None]])
def test_anything_else_is_a_type_error(bad):
    with pytest.raises(TypeError, match="group"):
        as_groups(bad)


def test_unknown_name_is_a_value_error():
    with pytest.raises(ValueError, match="unknown group"):
        as_groups(["O3", "Q7"])


def test_layers_and_models_accept_names():
    G = get("O3")
    V = parse("V", G)
    assert [g.name for g in SoftLinear(V, V, ["O3", "O2z"]).groups] == ["O3", "O2z"]
    model = SoftEMLP(V, V, ["O3", "O2x"], ch=16)
    assert [g.name for g in model.groups] == ["O3", "O2x"]
    with pytest.raises(TypeError, match="got int"):
        SoftLinear(V, V, [G, 7])
