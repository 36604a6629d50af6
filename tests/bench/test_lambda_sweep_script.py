"""The λ-sweep benchmark's table (benchmarks/bench_lambda_sweep.py)."""

from ._scripts import load_script

bench = load_script("bench_lambda_sweep")


def _row(variant, strength, seed, mse, residual=None):
    return {"variant": variant, "strength": strength, "seed": seed,
            "test_mse": mse, "val_mse": mse / 2, "best_epoch": 10 * (seed + 1),
            "epochs_run": 100,
            "stop_reason": "converged", "residual_O2z": residual}  # fmt: skip


def test_table_orders_loss_then_proximal_by_strength_then_references():
    rows = [
        _row("mlp", None, 0, 2.0), _row("prox", 100.0, 0, 0.3, 1e-6),
        _row("soft", 100.0, 0, 3.0, 1e-6), _row("soft", 0.0, 0, 2.5, 0.7),
        _row("soft", 0.0, 1, 3.5, 0.7), _row("limit", None, 0, 0.4),
    ]  # fmt: skip
    lines = bench.table(rows).splitlines()[2:]
    models = [line.split(" | ")[0] + " | " + line.split(" | ")[1] for line in lines]
    assert models == [
        "| SoftEMLP(O3, O2z), penalty in the loss | 0",
        "| SoftEMLP(O3, O2z), penalty in the loss | 100",
        "| SoftEMLP(O3, O2z), proximal penalty | 100",
        "| its λ → ∞ limit (O2z linear maps, O3 nonlinearities) | –",
        "| MLP (ch 384) | –",
    ]
    assert "| 3 ± 0.71 |" in lines[0]  # mean ± sample std over the two seeds
    # the hard limit is exact; the MLP has no weight residual to show
    assert lines[-2].endswith("| 0 (exact) |") and lines[-1].endswith("| – |")


def test_layers_table_averages_each_layers_o3_residual_over_seeds():
    rows = [
        {**_row("soft-all", 100.0, s, 0.1), "residual_layers": {"O3": [a, 1e-8, b]}}
        for s, (a, b) in enumerate([(1e-8, 2e-4), (3e-8, 6e-4)])
    ] + [_row("soft", 100.0, 0, 3.0)]  # an older row without per-layer residuals
    lines = bench.layers_table(rows).splitlines()
    head = "| model | λ | seeds | O3 residual: layer 1 | layer 2 | layer 3 |"
    assert lines[0] == head
    assert lines[2] == "| soft-all | 100 | 2 | 2e-08 | 1e-08 | 0.0004 |"
    assert len(lines) == 3
    assert bench.layers_table([_row("soft", 1.0, 0, 1.0)]).startswith("(no run")


def test_soft_all_rows_follow_the_o2z_only_rows():
    rows = [_row("soft-all", 100.0, 0, 0.1, 1e-8), _row("soft", 100.0, 0, 3.0, 1e-6),
            _row("prox", 100.0, 0, 0.3, 1e-6)]  # fmt: skip
    models = [line.split(" | ")[0] for line in bench.table(rows).splitlines()[2:]]
    assert models == [
        "| SoftEMLP(O3, O2z), penalty in the loss",
        "| SoftEMLP(O3, O2z), proximal penalty",
        "| SoftEMLP over every candidate, λ on each but O3, in the loss",
    ]


def test_flags_override_only_what_they_name_and_weight_decay_beats_the_shared_zero():
    import argparse

    args = argparse.Namespace(epochs=None, patience=500, weight_decay=2e-4, runs=None,
                              task=None, group=None)  # fmt: skip
    overrides = bench._overrides(args)
    assert overrides == {"patience": 500, "weight_decay": 2e-4}
    assert {**bench.SHARED, **overrides}["weight_decay"] == 2e-4


def test_a_deadline_passed_starts_no_run_and_keeps_the_finished_ones(tmp_path):
    out = tmp_path / "runs.jsonl"
    out.write_text('{"variant": "mlp", "strength": null, "seed": 0, "test_mse": 2.0}\n')
    jobs = [("mlp", None, 0, {}), ("soft", 10.0, 0, {}), ("emlp", None, 1, {})]
    rows, left = bench.run_resumable(jobs, out, workers=1, deadline=0.0)
    # the finished run is kept, the two others are left for a later call
    assert [r["variant"] for r in rows] == ["mlp"] and left == 2
    assert len(out.read_text().splitlines()) == 1


def test_a_sweep_on_another_group_names_it_and_reads_old_rows_as_o2z():
    rows = [{**_row("soft", 100.0, 0, 0.07), "residual": 1e-6,
             "task": "inertia:o3", "group": "O3", "largest": "O3"},
            {**_row("emlp", None, 0, 0.03), "task": "inertia:o3", "group": "O3",
             "largest": "O3"}]  # fmt: skip
    lines = bench.table(rows).splitlines()
    assert lines[0].startswith("| model | λ on O3 |")
    assert lines[0].endswith("| final O3 residual |")
    assert lines[2].startswith("| SoftEMLP(O3), penalty in the loss | 100 |")
    assert lines[2].endswith("| 1e-06 |")
    assert lines[3].startswith("| EMLP(O3), same allocation | – |")
    # rows written before --task existed are inertia:o2z's, residual_O2z theirs
    old = [_row("soft", 1.0, 0, 1.0, 0.5)]
    assert bench.setting(old) == ("inertia:o2z", "O2z", "O3")
    assert "| 0.5 |" in bench.table([_row("soft", 1.0, 0, 1.0, 0.5)])


def test_one_folder_holds_one_setting():
    import pytest

    rows = [{**_row("mlp", None, 0, 1.0), "task": "inertia:o3", "group": "O3"},
            _row("mlp", None, 1, 1.0)]  # fmt: skip
    with pytest.raises(ValueError, match="one setting per sweep folder"):
        bench.table(rows)


def test_candidates_hold_the_penalised_group_once():
    assert bench.candidates("O3", "O2z") == ("O3", "O2z")
    assert bench.candidates("O3", "O3") == ("O3",)


def test_soft_p0_starts_on_the_groups_maps_and_keeps_the_rest():
    import torch

    from softeq.groups import get
    from softeq.metrics import weight_residuals
    from softeq.nn.models import build
    from softeq.reps import parse

    G = get("O3")
    gen = torch.Generator().manual_seed(0)
    model = build("per", parse("2*V0+2*V", G), parse("V", G), ["O3", "O2z"], ch=16,
                  num_layers=1, generator=gen)  # fmt: skip
    before = weight_residuals(model)
    assert before["O3"]["total"] > 0.1 and before["O2z"]["total"] > 0.1
    bench.start_on_maps(model, "O2z")
    after = weight_residuals(model)
    assert after["O2z"]["total"] < 1e-10
    # off O2z's maps nothing is left, so O(3)'s residual is what O2z's maps carry
    assert 0 < after["O3"]["total"] < before["O3"]["total"]


def test_the_orbit_variant_penalises_the_one_group_on_an_mlp(tmp_path):
    """`orbit`: the MLP with an orbit penalty at strength λ on `--group` alone
    (the largest candidate at 0, the task's other candidates dropped)."""
    import json

    import torch

    threads = torch.get_num_threads()
    try:
        row = bench.run_one(
            (
                "orbit",
                2.0,
                0,
                {
                    "task": "cossim:so3",
                    "group": "SO3",
                    "epochs": 2,
                    "runs": str(tmp_path),
                },
            )
        )
    finally:
        torch.set_num_threads(threads)
    assert (row["variant"], row["strength"], row["group"]) == ("orbit", 2.0, "SO3")
    assert row["largest"] == "SO3xScale3" and row["residual"] is None
    logged = json.loads((tmp_path / "orbit-2.0-s0" / "metrics.jsonl")
                        .read_text().splitlines()[-1])  # fmt: skip
    strengths = {k: v for k, v in logged.items() if k.startswith("reg/strength/")}
    assert strengths == {"reg/strength/SO3xScale3": 0.0, "reg/strength/SO3": 2.0}
    assert logged["reg/orbit/SO3"] > 0
    lines = bench.table([row, {**row, "seed": 1}, {**_row("mlp", None, 0, 1.0),
                         "task": "cossim:so3", "group": "SO3",
                         "largest": "SO3xScale3"}]).splitlines()  # fmt: skip
    assert lines[2].startswith("| MLP (ch 384), orbit penalty on SO3 only | 2 |")
    assert lines[2].endswith("| – |") and lines[3].startswith("| MLP (ch 384) | – |")


def test_an_unknown_variant_is_one_clear_error():
    import argparse

    import pytest

    parser = argparse.ArgumentParser()
    with pytest.raises(SystemExit):
        bench._check_setting(parser, "cossim:so3", "SO3", ["orbits"])
    bench._check_setting(parser, "cossim:so3", "SO3", ["orbit", "mlp"])
