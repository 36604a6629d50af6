"""Shared fixtures: the group list, a seeded generator, and per-test seeding."""

from __future__ import annotations

import os

import pytest
import torch

from softeq.groups import Group, get

# Every registry family, the three embedded O(2)'s, and a direct product.
FAST_GROUPS = [
    "O3", "SO3", "O2x", "O2y", "O2z", "SO2x", "SO2y", "SO2z", "Scale3", "SO3xScale3",
    "S4", "O5", "SO4", "C4", "D6", "Lorentz", "SL3", "GL3", "Trivial3", "SO3+S4",
]  # fmt: skip

SEED = int(os.environ.get("SOFTEQ_TEST_SEED", "0"))


@pytest.fixture(params=FAST_GROUPS)
def group(request: pytest.FixtureRequest) -> Group:
    return get(request.param)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(SEED)


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    torch.manual_seed(SEED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Name the seed in every failure report, so a failure can be replayed."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        report.sections.append(("softeq seed", f"SOFTEQ_TEST_SEED={SEED}"))
