"""Candidate groups may be given as `Group`s or registry names."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from softeq.basis import hom_basis, invariant_basis, solve_invariants
from softeq.groups import as_group, as_groups, get
from softeq.metrics import (
    equivariance_error,
    orbit_errors,
    orbit_parameters,
    symmetry_cost,
)
from softeq.nn import RPPLinear, SoftLinear
from softeq.nn.models import EMLP, RPPEMLP, SoftEMLP, allocate
from softeq.regularizers import (
    ConstantTuner,
    EvidenceTuner,
    GroupAugmentation,
    GroupAveraged,
    OrbitPenalty,
    OrbitTuner,
    PERTuner,
    ProjectionPenalty,
)
from softeq.reps import Rep, TensorType, parse


def test_names_and_groups_mix():
    assert [g.name for g in as_groups(("O3", get("O2z")))] == ["O3", "O2z"]
    assert as_group("O2z") == get("O2z") == as_group(get("O2z"))


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


# -- every public entry point that takes groups: names and objects alike -------------

V = parse("V", get("O3"))
X = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
M = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0]], dtype=X.dtype)


def _dense(x):
    """A fixed map equivariant for none of the candidates."""
    return x @ M.T


def _seeded():
    return torch.Generator().manual_seed(0)


def _model(make):
    """Build a model from seeded weights and return its output on X."""
    return make(generator=_seeded()).double()(X)


def _tuned(tuner):
    for epoch in range(2):
        tuner.step(epoch, dict(zip(tuner.groups, [4.0, 2.0], strict=True)))
    return tuner.strengths


# case: (g -> result, with g turning a name into what is passed; the group, and
# another group that must change the result)
CASES = {
    "OrbitPenalty": (
        lambda g, h: OrbitPenalty(_dense, V, V, [g("O3"), g(h)])(X, _seeded()),
        "O2z", "O2x",
    ),
    "GroupAugmentation": (
        lambda g, h: GroupAugmentation(_dense, g(h), V, V, generator=_seeded())(X),
        "O2z", "O2x",
    ),
    "GroupAveraged": (
        lambda g, h: GroupAveraged(_dense, g(h), V, V, generator=_seeded())(X),
        "O2z", "O2x",
    ),
    "equivariance_error": (
        lambda g, h: equivariance_error(_dense, V, V, g(h), X, generator=_seeded()),
        "O2z", "O2x",
    ),
    "symmetry_cost": (
        lambda g, h: symmetry_cost(_dense, V, V, g(h), X, X, generator=_seeded()).cost,
        "O2z", "O2x",
    ),
    "orbit_errors": (
        lambda g, h: orbit_errors(_dense, V, V, g(h), X, torch.tensor([0.5, 1.0])),
        "O2z", "O2x",
    ),
    "orbit_parameters": (lambda g, h: orbit_parameters(g(h), 4), "O2z", "Scale3"),
    "EMLP": (
        lambda g, h: _model(partial(EMLP, V, V, g(h), nonlinear_group=g("O3"),
                                    ch=8, num_layers=1)),
        "O2z", "O2x",
    ),
    "RPPEMLP": (
        lambda g, h: _model(partial(RPPEMLP, V, V, g("O3"), free_group=g(h), ch=8,
                                    num_layers=1)),
        "O2z", "O2x",
    ),
    "SoftEMLP": (
        lambda g, h: ProjectionPenalty(SoftEMLP(V, V, [g("O3"), g(h)], ch=8,
                                                num_layers=1, generator=_seeded()))(
            exact=True
        ),
        "O2z", "O2x",
    ),
    "RPPLinear": (
        lambda g, h: _model(partial(RPPLinear, V, V, g("O3"), free_group=g(h))),
        "O2z", "O2x",
    ),
    "allocate": (lambda g, h: allocate(16, g(h)), "O2z", "O2x"),
    "solve_invariants": (
        lambda g, h: solve_invariants(g(h), TensorType.of(1)), "O2z", "O2x",
    ),
    "invariant_basis": (
        lambda g, h: invariant_basis(g(h), TensorType.of(1)), "O2z", "O2x",
    ),
    "hom_basis": (
        lambda g, h: hom_basis(g(h), TensorType.of(1), TensorType()), "O2z", "O2x",
    ),
    "ConstantTuner": (lambda g, h: ConstantTuner([g("O3"), g(h)]).strengths,
                      "O2z", "O2x"),
    "PERTuner": (
        lambda g, h: _tuned(PERTuner([g(h), g("O2z")], adjust_at=2, warmup=0)),
        "O3", "SO3",
    ),
    "OrbitTuner": (
        lambda g, h: _tuned(OrbitTuner([g(h), g("O2z")], adjust_at=2, warmup=0)),
        "O3", "SO3",
    ),
    "EvidenceTuner": (
        lambda g, h: EvidenceTuner([g("O3"), g(h)], weight_decay=0.1,
                                   n_targets=10).strengths,
        "O2z", "O2x",
    ),
}  # fmt: skip


def _plain(value):
    """Results as comparable plain values (a rep by its layout and group)."""
    if isinstance(value, torch.Tensor):
        return value.detach().tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Rep):
        return (str(value), value.group.name)
    return value


@pytest.mark.parametrize("case", CASES)
def test_names_and_groups_give_the_same_result(case):
    run, name, other = CASES[case]
    by_name = _plain(run(lambda n: n, name))
    assert by_name == _plain(run(get, name))
    assert by_name != _plain(run(get, other))  # the group is not ignored


@pytest.mark.parametrize(
    "make",
    [
        lambda: OrbitPenalty(_dense, V, V, ["O3", 3]),
        lambda: GroupAugmentation(_dense, 3, V, V),
        lambda: GroupAveraged(_dense, None, V, V),
        lambda: equivariance_error(_dense, V, V, 3.0, X),
        lambda: EMLP(V, V, ["O3"]),
        lambda: allocate(16, None),
        lambda: ConstantTuner(["O3", 3]),
        lambda: PERTuner("O3"),
    ],
    ids=["OrbitPenalty", "GroupAugmentation", "GroupAveraged", "equivariance_error",
         "EMLP", "allocate", "ConstantTuner", "PERTuner"],
)  # fmt: skip
def test_anything_but_a_group_or_a_name_is_a_type_error(make):
    with pytest.raises(TypeError, match="expected a .*group name"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: GroupAugmentation(_dense, "O9x", V, V),
        lambda: equivariance_error(_dense, V, V, "Q3", X),
    ],
    ids=["GroupAugmentation", "equivariance_error"],
)
def test_an_unknown_name_is_a_value_error(make):
    with pytest.raises(ValueError, match="unknown group"):
        make()


def test_tuners_need_distinct_names():
    with pytest.raises(ValueError, match="distinct"):
        ConstantTuner(["O3", get("O3")])
