"""The per-layer residual table (benchmarks/bench_layer_residuals.py)."""

import json
from pathlib import Path

from ._scripts import load_script

bench = load_script("bench_layer_residuals")


def _report(root: Path, task: str, method: str, seed: int, layers) -> None:
    folder = root / task / method / f"s{seed}"
    folder.mkdir(parents=True)
    other = None if layers is None else [9.0] * len(layers)
    groups = [{"name": "O3", "residual_layers": layers},
              {"name": "O2z", "residual_layers": other}]  # fmt: skip
    (folder / "report.json").write_text(json.dumps({"groups": groups}))


def test_table_averages_seeds_per_layer_and_compares_last_with_hidden(tmp_path):
    _report(tmp_path, "inertia-o2z", "per", 0, [1e-7, 3e-7, 2e-3])
    _report(tmp_path, "inertia-o2z", "per", 1, [3e-7, 1e-7, 4e-3])
    _report(tmp_path, "inertia-o2z", "mlp", 0, None)  # no soft layers
    cells = bench.collect(tmp_path, ["per", "mlp"], "O3")
    assert list(cells) == [("inertia-o2z", "per")]
    lines = bench.table(cells, "O3").splitlines()
    assert lines[0] == (
        "| task | method | seeds | O3 residual: layer 1 | layer 2 | layer 3 "
        "| last / hidden |"
    )
    # means 2e-7, 2e-7, 3e-3; last over the largest hidden layer: 1.5e4
    assert lines[2] == "| inertia-o2z | per | 2 | 2e-07 | 2e-07 | 0.003 | 1.5e+04 |"
    assert bench.table({}, "O3").startswith("(no run")


def test_collect_reads_a_fit_stage_under_each_seed(tmp_path):
    for seed, layers in enumerate([[1e-7, 2.0], [3e-7, 4.0]]):
        _report(tmp_path, "inertia-o2z", "auto-per-hidden", seed, None)
        stage = tmp_path / "inertia-o2z" / "auto-per-hidden" / f"s{seed}" / "impose-O2z"
        stage.mkdir()
        groups = [{"name": "O3", "residual_layers": layers}]
        (stage / "report.json").write_text(json.dumps({"groups": groups}))
    cells = bench.collect(tmp_path, ["auto-per-hidden"], "O3", stage="impose-*")
    assert cells == {("inertia-o2z", "auto-per-hidden"): [[1e-7, 2.0], [3e-7, 4.0]]}
    assert bench.collect(tmp_path, ["auto-per-hidden"], "O3") == {}
