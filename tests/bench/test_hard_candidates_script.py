"""The hard-candidates benchmark's table (benchmarks/bench_hard_candidates.py)."""

from ._scripts import load_script

bench = load_script("bench_hard_candidates")


def _row(group, seed, mse, task="inertia:o2z"):
    return {"task": task, "group": group, "seed": seed, "test_mse": mse}


def test_table_puts_the_mlp_first_and_divides_means_by_its_mean():
    rows = [
        _row("O2z", 0, 1.0), _row("O2z", 1, 3.0),  # mean 2
        _row(None, 0, 4.0), _row(None, 1, 4.0),  # the MLP, mean 4
        _row("O3", 0, 12.0), _row("O3", 1, 12.0),
    ]  # fmt: skip
    lines = bench.table(rows).splitlines()
    assert lines[2] == "| inertia:o2z | MLP | – | 4 ± 0 | – |"
    # candidates in the task's order (O3 first), with their truth labels
    assert lines[3] == "| inertia:o2z | EMLP(O3) | broken | 12 ± 0 | 3.00 |"
    assert lines[4] == "| inertia:o2z | EMLP(O2z) | exact | 2 ± 1.4 | 0.50 |"
    assert len(lines) == 5


def test_table_without_the_mlp_has_no_ratio_and_one_seed_no_std():
    lines = bench.table([_row("O2z", 0, 2.5)]).splitlines()
    assert lines[2] == "| inertia:o2z | EMLP(O2z) | exact | 2.5 | – |"
