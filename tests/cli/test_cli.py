from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from softeq.cli import main

FAST = ["--ch", "8", "--num-layers", "1", "--epochs", "3", "--select-after", "1",
        "--eval-inputs", "4", "--eval-transforms", "2"]  # fmt: skip


def test_list_names_tasks_models_and_groups(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "inertia:o2z" in out and "rpp-oracle" in out and "O2z" in out
    assert "per-inertia" in out and "mocap" in out


def test_list_truth_shows_each_synthetic_tasks_measured_breaking(capsys):
    assert main(["list", "--truth"]) == 0
    out = capsys.readouterr().out
    # measured, not chosen: cossim:scale's rotations break 3 % of Var(y)
    assert re.search(r"cossim:scale: SO3xScale3 approximate \(0\.0\d\d\), "
                     r"SO3 approximate \(0\.0\d\d\), Scale3 exact \(0\.000\)",
                     out)  # fmt: skip
    assert re.search(r"inertia:o2z: O3 broken \(\d\.\d+\)", out)
    assert "  mocap:" not in out  # no ground truth, nothing measured


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--task", "inertia:o2z", "--model", "per", "--out", str(out),
                 *FAST])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "test MSE" in printed and "O2z" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert main(["eval", str(out)]) == 0
    assert f"{summary['test_mse']:.5g}" in capsys.readouterr().out


def _as_if_trained_on_cuda(run) -> None:
    """Rewrite a CPU run folder as a GPU run would have left it (device "cuda" in
    config.toml and in the checkpoint's config; tensors are always saved on CPU)."""
    from softeq.train import load_checkpoint, save_atomic

    config = run / "config.toml"
    text = config.read_text()
    assert 'device = "cpu"' in text
    gpu = 'device = "cuda"\ncuda_graphs = true'
    config.write_text(
        text.replace('device = "cpu"', gpu).replace("cuda_graphs = false\n", "")
    )
    state = load_checkpoint(run / "checkpoint.pt")
    state["config"].update(device="cuda", cuda_graphs=True)
    save_atomic(state, run / "checkpoint.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_eval_of_a_gpu_run_on_a_cpu_machine(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--task", "inertia:o2z", "--model", "per", "--out", str(out),
          *FAST])  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    _as_if_trained_on_cuda(out)
    capsys.readouterr()
    assert main(["eval", str(out)]) == 2
    assert "evaluate it on the CPU with --device cpu" in capsys.readouterr().err
    assert main(["eval", str(out), "--device", "cpu"]) == 0
    assert f"{summary['test_mse']:.5g}" in capsys.readouterr().out
    # the flag chooses where to run, not what was trained: other fields still count
    config = out / "config.toml"
    config.write_text(config.read_text().replace("seed = 0", "seed = 1"))
    assert main(["eval", str(out), "--device", "cpu"]) == 2
    assert "differs in ['seed']" in capsys.readouterr().err


def test_config_file_with_flag_override(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('task = "cossim:so3"\nmodel = "mlp"\nepochs = 50\n')
    assert (
        main(["train", "--config", str(cfg), "--out", str(tmp_path / "r"), *FAST]) == 0
    )
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["task"] == "cossim:so3" and summary["epochs_run"] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--task", "inertia:o7"], "inertia"),
        (["train", "--preset", "slow"], "preset must be one of"),
        (["train", "--epochs", "-2"], "epochs must be an integer >= 1"),
        (["train", "--model", "emlp", "--group", "O9z"], "unknown group 'O9z'"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_code_2(
    argv, message, tmp_path, capsys
):
    code = main([*argv, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("softeq: error:") and message in err
    assert len(err.splitlines()) == 1


def test_malformed_config_file_is_a_clean_error(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("epochs = [\n")
    assert main(["train", "--config", str(cfg)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


@pytest.fixture
def o2x_npz(tmp_path):
    import numpy as np

    from softeq.data import get_task

    t = get_task("inertia:o2x")
    path = tmp_path / "o2x.npz"
    np.savez(path, x=t.x_train[:300].numpy(), y=t.y_train[:300].numpy())
    return path


def test_discover_json_ranks_groups(o2x_npz, tmp_path, capsys):
    argv = ["discover", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--epochs", "3", "--json", "--out", str(tmp_path / "run")]  # fmt: skip
    code = main(argv)
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [g["rank"] for g in result["groups"]] == [1, 2, 3, 4]
    assert {g["name"] for g in result["groups"]} == {"O3", "O2x", "O2y", "O2z"}
    keys = {"strength", "residual", "equivariance_error", "cost", "cost_stderr"}
    assert keys | {"verdict"} <= set(result["groups"][0])
    assert result["test_mse"] > 0 and result["verdict_basis"] == "breaking"
    assert result["summary"].startswith("Exact: ")
    for name in ["report.md", "report.json", "report.png", "report_orbits.png"]:
        assert (tmp_path / "run" / name).is_file()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--rep-in", "4*V", "--rep-out", "V2"], "rep_in"),
        (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--groups", "O3,O9"], "O9"),
        (["--rep-in", "5*V0+5*W", "--rep-out", "V2"], "W"),
        (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--cuda-graphs"],
         "cuda_graphs needs device 'cuda'"),
    ],
)  # fmt: skip
def test_discover_bad_input_exits_2(o2x_npz, extra, message, capsys):
    assert main(["discover", str(o2x_npz), *extra, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("softeq: error:") and message in err


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    """A `softeq discover --out` run folder (one epoch), its data given by a path
    relative to the working directory of the run."""
    from softeq.data import get_task

    root = tmp_path_factory.mktemp("discover")
    t = get_task("inertia:o2x")
    np.savez(root / "o2x.npz", x=t.x_train[:300].numpy(), y=t.y_train[:300].numpy())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        code = main(["discover", "o2x.npz", "--rep-in", "5*V0+5*V", "--rep-out",
                     "V2", "--epochs", "1", "--json", "--out", "run"])  # fmt: skip
    assert code == 0
    return root / "run"


def test_eval_of_a_discover_run_folder(discovered, tmp_path, capsys, monkeypatch):
    summary = json.loads((discovered / "summary.json").read_text())
    record = json.loads((discovered / "data.json").read_text())
    assert record["groups"] == ["O3", "O2x", "O2y", "O2z"]
    assert (record["rep_in"], record["rep_out"]) == ("5*V0+5*V", "V2")
    monkeypatch.chdir(tmp_path)  # the data's relative path no longer resolves here
    capsys.readouterr()
    assert main(["eval", str(discovered)]) == 0
    printed = capsys.readouterr().out
    assert "file:o2x.npz" in printed and f"{summary['test_mse']:.5g}" in printed


def _changed(data):
    np.savez(data, x=np.zeros((300, 20)), y=np.zeros((300, 9)))


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda data: data.unlink(), "does not exist"),
        (_changed, "has changed since the run"),
        (lambda data: (data.parent / "run" / "data.json").unlink(),
         "no data.json saying how to read it"),
        (lambda data: (data.parent / "run" / "data.json").write_text("[]"),
         "data.json is malformed"),
    ],
    ids=["missing", "changed", "no-record", "malformed"],
)  # fmt: skip
def test_eval_of_a_discover_folder_whose_data_is_not_the_run_s(
    discovered, tmp_path, spoil, message, capsys
):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(discovered, run)
    data = shutil.copy(discovered.parent / "o2x.npz", tmp_path / "o2x.npz")
    record = json.loads((run / "data.json").read_text())
    (run / "data.json").write_text(json.dumps({**record, "path": str(data)}))
    spoil(tmp_path / "o2x.npz")
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("softeq: error:") and message in err


def test_discover_missing_file_exits_2(tmp_path, capsys):
    assert main(["discover", str(tmp_path / "none.npz"), "--rep-in", "V",
                 "--rep-out", "V"]) == 2  # fmt: skip
    assert "softeq: error:" in capsys.readouterr().err


def test_train_on_your_own_motion_file(tmp_path, capsys, monkeypatch):
    """`softeq train --task motion:PATH.npz` uses the motion presets and names its
    default run folder after the file, in one folder level."""
    from softeq.data import MotionData

    data = tmp_path / "data" / "walks.npz"
    data.parent.mkdir()
    gen = np.random.default_rng(0)
    track = np.cumsum(gen.normal(size=(12, 12, 2, 3)), axis=1).astype(np.float32)
    MotionData(past=track[:, :6], future=track[:, 6:], split=[0] * 6 + [1] * 3 +
               [2] * 3, units="m", dt=0.2, vertical_axis=2).save(data)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--task", f"motion:{data}:residual", "--model", "mlp",
                 "--epochs", "2", "--select-after", "1"])  # fmt: skip
    assert code == 0
    assert "test_ade" in capsys.readouterr().out
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("motion-") and folder.name.endswith("-mlp-s0")
    assert (folder / "summary.json").is_file()


def test_tune_largest_flag_reaches_the_evidence_tuner(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--task", "inertia:o2z", "--model", "per", "--tuner", "evidence",
            "--tune-largest", "--out", str(out), *FAST]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strengths"]["O3"] > 0
    assert "tune_largest = true" in (out / "config.toml").read_text()


def test_every_train_flag_has_help_from_the_config_docstring(capsys):
    import dataclasses

    from softeq.cli._train import field_help
    from softeq.train import TrainConfig

    helps = field_help()
    missing = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in helps]
    assert missing == []
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--no-standardize" in text and "--no-fast-dev-run" in text
    assert helps["patience"].split()[0] in text


def test_a_boolean_can_be_switched_off_over_a_config_file(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('task = "o5-synthetic:1000"\nmodel = "mlp"\nstandardize = true\n')
    out = tmp_path / "r"
    argv = ["train", "--config", str(cfg), "--out", str(out), "--no-standardize"]
    assert main([*argv, *FAST]) == 0
    assert "standardize = false" in (out / "config.toml").read_text()


def test_fit_json_prints_test_mse_plan_and_groups(o2x_npz, tmp_path, capsys):
    out = tmp_path / "fit"
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--preset", "fast", "--epochs", "3", "--json", "--soft",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    # --soft: the soft stage is trained beside the (not exact) group to impose
    assert "soft" in printed["val_mse"]
    assert {"test_mse", "plan", "groups", "chosen", "val_mse"} <= set(printed)
    assert [c["name"] for c in printed["plan"]] == ["O3", "O2x", "O2y", "O2z"]
    assert all(c["action"] in ("impose", "soft", "ignore") for c in printed["plan"])
    for name in ("fit.json", "report.md", "model.pt", "none/summary.json"):
        assert (out / name).is_file(), name
    assert (out / "soft" / "summary.json").is_file()
    assert json.loads((out / "fit.json").read_text())["test_mse"] == printed["test_mse"]
    report = (out / "report.md").read_text()
    best = min(printed["val_mse"], key=printed["val_mse"].get)
    assert f"## Plan (chosen: {best})" in report
    assert "| O2z | " in report and "Validation MSE of each candidate model" in report


def test_fit_prints_the_plan(o2x_npz, capsys):
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--groups", "O3,O2x", "--preset", "fast", "--epochs", "2"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Plan (chosen model:" in out and "  O2x: " in out and "Test MSE" in out
    assert "without the worst 1 % of test points" in out


def test_fit_hidden_choose_trains_each_stage_both_ways(o2x_npz, tmp_path, capsys):
    out = tmp_path / "fit"
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--groups", "O3,O2x", "--model", "per", "--hidden", "choose",
            "--preset", "fast", "--epochs", "2", "--json",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    tagged = [k for k in printed["val_mse"] if k.endswith(" (hidden)")]
    assert tagged and len(printed["val_mse"]) == 1 + 2 * len(tagged)
    assert isinstance(printed["hidden"], bool)
    stages = [h["stage"] for h in printed["history"]]
    assert any(s.endswith("-hidden") for s in stages)
    for stage in stages:
        assert (out / stage / "summary.json").is_file(), stage


def test_fit_hidden_without_a_value_means_on(o2x_npz, capsys):
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--groups", "O3,O2x", "--model", "per", "--hidden",
            "--preset", "fast", "--epochs", "2", "--json"]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert not any(k.endswith(" (hidden)") for k in printed["val_mse"])
    assert {h["hidden_strength"] for h in printed["history"][1:]} == {1e4}


def test_fit_per_strengths_trains_pers_tuner_from_each(o2x_npz, tmp_path, capsys):
    out = tmp_path / "fit"
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--groups", "O3,O2x", "--model", "per", "--soft", "--soft-tuner", "per",
            "--per-strengths", "0.5,50", "--preset", "fast", "--epochs", "2",
            "--json", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    stages = [h["stage"] for h in printed["history"]]
    assert stages[1:3] == ["soft-per@0.5", "soft-per@50"]
    assert "strength = 50.0" in (out / "soft-per@50" / "config.toml").read_text()


def test_fit_nonlinear_group_builds_the_soft_emlp_for_it(o2x_npz, tmp_path, capsys):
    out = tmp_path / "fit"
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--groups", "O3,O2x", "--model", "per", "--nonlinear-group", "O2x",
            "--hidden", "--preset", "fast", "--epochs", "2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert ("hidden layers held on O2x" in printed) == ("none)" not in printed)
    fitted = json.loads((out / "fit.json").read_text())
    assert fitted["spec"]["nonlinear_group"] == "O2x"
    assert 'nonlinear_group = "O2x"' in (out / "none" / "config.toml").read_text()


@pytest.mark.parametrize(
    "extra, message",
    [(["--rep-in", "4*V", "--rep-out", "V2"], "features"),
     (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--groups", "O3,Q7"], "Q7"),
     (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--epochs", "0"], "epochs"),
     (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--model", "per",
       "--nonlinear-group", "SO3"], "candidates"),
     (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--model", "per",
       "--per-strengths", "1,x"], "--per-strengths must be numbers"),
     (["--rep-in", "5*V0+5*V", "--rep-out", "V2", "--model", "per",
       "--per-strengths", "0"], "per_strengths must be")],
)  # fmt: skip
def test_fit_bad_input_exits_2(o2x_npz, extra, message, capsys):
    assert main(["fit", str(o2x_npz), *extra, "--preset", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("softeq: error:") and message in err and err.count("\n") == 1


def test_fit_several_models_keeps_the_best_on_validation(o2x_npz, tmp_path, capsys):
    out = tmp_path / "fit"
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--groups", "O3,O2x", "--model", "mlp,per", "--preset", "fast",
            "--epochs", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    fitted = json.loads((out / "fit.json").read_text())
    assert set(fitted["carriers"]) == {"mlp", "per"}
    assert f"Model kept: {fitted['carrier']} (validation MSE of each: " in printed
    assert (out / "mlp" / "fit.json").is_file() and (out / "per" / "fit.json").is_file()


@pytest.mark.parametrize("models", ["mlp,foo", "mlp,mlp"])
def test_fit_refuses_unknown_or_repeated_models(o2x_npz, models, capsys):
    argv = ["fit", str(o2x_npz), "--rep-in", "5*V0+5*V", "--rep-out", "V2",
            "--model", models]  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "distinct models of mlp, per, emlp" in capsys.readouterr().err
