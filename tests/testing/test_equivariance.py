from __future__ import annotations

import pytest
import torch

from softeq.groups import get
from softeq.reps import parse
from softeq.testing import (
    TOL,
    assert_equivariant,
    equivariance_gap,
    relative_error,
    tolerance,
)


def test_relative_error_is_scale_free_bounded_and_zero_on_equal():
    a = torch.randn(10, dtype=torch.float64)
    b = torch.randn(10, dtype=torch.float64)
    assert relative_error(a, a) == 0
    assert 0 <= relative_error(a, b) <= 1
    torch.testing.assert_close(relative_error(3 * a, 3 * b), relative_error(a, b))
    assert relative_error(a, -a) == 1
    assert relative_error(torch.zeros(3), torch.zeros(3)) == 0


def test_tolerance_table_and_lookup():
    assert TOL["layer"][torch.float64] == 1e-9
    assert tolerance("model", torch.float32) == 1e-4
    with pytest.raises(ValueError, match="unknown tolerance check"):
        tolerance("nope", torch.float64)
    with pytest.raises(ValueError, match="float32 or float64"):
        tolerance("layer", torch.float16)


def test_identity_and_norm_are_equivariant_and_a_shift_is_not(generator):
    G = get("O3")
    V, S = parse("V", G), parse("V0", G)
    assert_equivariant(lambda x: x, V, V, generator=generator)
    assert_equivariant(
        lambda x: x.norm(dim=-1, keepdim=True), V, S, generator=generator
    )
    assert equivariance_gap(lambda x: x + 1.0, V, V, generator=generator) > 0.01
    with pytest.raises(AssertionError, match="relative error"):
        assert_equivariant(lambda x: x + 1.0, V, V, generator=generator)


def test_float32_check_uses_the_float32_tolerance(generator):
    G = get("SO3")
    V = parse("V", G)
    assert_equivariant(lambda x: 2 * x, V, V, dtype=torch.float32, generator=generator)


def test_gap_requires_one_group():
    with pytest.raises(ValueError, match="share a group"):
        equivariance_gap(lambda x: x, parse("V", get("O3")), parse("V", get("SO3")))
