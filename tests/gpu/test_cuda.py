"""CUDA parity: every model, penalty, wrapper, metric and tuner gives on a GPU what
it gives on the CPU, and the trainer and CLI run end to end on `device="cuda"`.

Marked `gpu` (deselected by default; `pytest -m gpu` runs them) and skipped where
torch sees no CUDA device. The comparisons run in float64, where CPU and GPU
kernels agree to round-off; float32 runs are only checked to finish with finite
numbers, since their last bits differ between devices (see docs/reliability.md).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch

from softeq.groups import get
from softeq.metrics import equivariance_error, symmetry_cost
from softeq.nn.models import MLP, build
from softeq.regularizers import (
    EvidenceTuner,
    FrameAveraged,
    GroupAugmentation,
    GroupAveraged,
    OrbitPenalty,
    ProjectionPenalty,
)
from softeq.reps import parse
from softeq.train import GraphedForward, TrainConfig, Trainer, load_checkpoint
from tests.train.test_trainer import _CrashAfterEpoch3, _InterruptedError

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CANDIDATES = ["O3", "O2x", "O2y", "O2z"]
CUDA = torch.device("cuda")
# float64 CPU and GPU kernels differ by summation order only
ATOL = 1e-9


def _reps():
    G = get("O3")
    return parse("5*V0+5*V", G), parse("V2", G)


def _inputs(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rep_in, rep_out = _reps()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, rep_in.dim, generator=gen, dtype=torch.float64)
    y = torch.randn(n, rep_out.dim, generator=gen, dtype=torch.float64)
    return x, y


def _twins(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same float64 model on the CPU and on the GPU."""
    rep_in, rep_out = _reps()
    gen = torch.Generator().manual_seed(0)
    cpu = build(name, rep_in, rep_out, CANDIDATES, ch=32, generator=gen).double()
    return cpu, copy.deepcopy(cpu).to(CUDA)


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = ATOL) -> None:
    assert b.device.type == CUDA.type
    torch.testing.assert_close(a, b.cpu(), atol=atol, rtol=1e-9)


@pytest.mark.parametrize("name", ["mlp", "emlp", "rpp", "per"])
def test_models_forward_and_gradients_match_the_cpu(name):
    cpu, gpu = _twins(name)
    x, y = _inputs()
    for model, xx, yy in [(cpu, x, y), (gpu, x.to(CUDA), y.to(CUDA))]:
        (model(xx) - yy).square().mean().backward()
    _close(cpu(x), gpu(x.to(CUDA)))
    for (pname, p), q in zip(cpu.named_parameters(), gpu.parameters(), strict=True):
        assert q.grad is not None, pname
        _close(p.grad, q.grad)


def test_projection_penalty_values_and_gradients_match_the_cpu():
    cpu, gpu = _twins("per")
    terms = {}
    for model in (cpu, gpu):
        values = ProjectionPenalty(model)()
        sum(values.values()).backward()
        terms[model] = values
    assert set(terms[cpu]) == set(CANDIDATES)
    for name in CANDIDATES:
        _close(terms[cpu][name], terms[gpu][name])
    for p, q in zip(cpu.parameters(), gpu.parameters(), strict=True):
        if p.grad is not None:
            _close(p.grad, q.grad)


def test_orbit_penalty_matches_the_cpu():
    rep_in, rep_out = _reps()
    cpu = MLP(rep_in, rep_out, ch=32).double()
    gpu = copy.deepcopy(cpu).to(CUDA)
    groups = [get(g) for g in CANDIDATES]
    x, _ = _inputs()
    out = {}
    for model, xx in [(cpu, x), (gpu, x.to(CUDA))]:
        penalty = OrbitPenalty(model, rep_in, rep_out, groups, n_samples=3)
        out[model] = penalty(xx, generator=torch.Generator().manual_seed(1))
    for name in CANDIDATES:
        _close(out[cpu][name], out[gpu][name])


@pytest.mark.parametrize("wrapper", ["augment", "average", "frame"])
def test_wrappers_run_on_the_gpu_and_match_the_cpu(wrapper):
    rep_in, rep_out = _reps()
    G = get("O2z")
    base = MLP(rep_in, rep_out, ch=32).double()
    x, _ = _inputs()
    outs = []
    for device in ("cpu", CUDA):
        model = copy.deepcopy(base).to(device)
        if wrapper == "augment":
            wrapped = GroupAugmentation(
                model, G, rep_in, rep_out, generator=torch.Generator().manual_seed(3)
            )
        elif wrapper == "average":
            wrapped = GroupAveraged(
                model, G, rep_in, rep_out, generator=torch.Generator().manual_seed(3)
            )
        else:
            wrapped = FrameAveraged(model, rep_in, rep_out)
        outs.append(wrapped.to(device)(x.to(device)))
    _close(outs[0], outs[1])


def test_metrics_match_the_cpu():
    rep_in, rep_out = _reps()
    cpu, gpu = _twins("per")
    x, y = _inputs(128)
    G = get("O2z")
    kw = dict(n_samples=4)
    err_cpu = equivariance_error(
        cpu, rep_in, rep_out, G, x, generator=torch.Generator().manual_seed(5), **kw
    )
    err_gpu = equivariance_error(
        gpu, rep_in, rep_out, G, x.to(CUDA),
        generator=torch.Generator().manual_seed(5), **kw,
    )  # fmt: skip
    assert err_gpu == pytest.approx(err_cpu, rel=1e-9)
    cost_cpu = symmetry_cost(
        cpu, rep_in, rep_out, G, x, y, generator=torch.Generator().manual_seed(5), **kw
    )
    cost_gpu = symmetry_cost(
        gpu, rep_in, rep_out, G, x.to(CUDA), y.to(CUDA),
        generator=torch.Generator().manual_seed(5), **kw,
    )  # fmt: skip
    assert cost_gpu.cost == pytest.approx(cost_cpu.cost, rel=1e-9, abs=1e-12)


def test_evidence_tuner_step_matches_the_cpu():
    cpu, gpu = _twins("per")
    x, _ = _inputs(64)
    strengths = []
    for model, xx in [(cpu, x), (gpu, x.to(CUDA))]:
        tuner = EvidenceTuner(CANDIDATES, 1.0, weight_decay=1e-4, n_targets=9, every=1)
        penalties = {
            k: float(v.detach()) for k, v in ProjectionPenalty(model)().items()
        }
        tuner.step(0, penalties, model, train_mse=1.0, inputs=xx)
        strengths.append(dict(tuner.strengths))
    for name in CANDIDATES:
        assert strengths[1][name] == pytest.approx(strengths[0][name], rel=1e-6)


SMALL = dict(task="inertia:o2z", ch=16, num_layers=1, epochs=4, batch_size=250,
             select_after=1, eval_inputs=8, eval_transforms=2)  # fmt: skip


@pytest.mark.parametrize(
    ("model", "tuner"),
    [("per", "per"), ("per", "evidence"), ("mlp-orbit", None), ("mlp-aug", None),
     ("emlp", None), ("rpp", None)],
)  # fmt: skip
def test_trainer_runs_on_cuda_and_its_checkpoint_loads_on_the_cpu(
    model, tuner, tmp_path
):
    extra = {"tuner": tuner} if tuner else {}
    cfg = TrainConfig(**SMALL, model=model, device="cuda", **extra)
    trainer = Trainer(cfg, tmp_path)
    assert next(trainer.model.parameters()).device.type == CUDA.type
    summary = trainer.fit()
    assert summary["epochs_run"] == 4
    assert torch.isfinite(torch.tensor(summary["test_mse"]))
    assert (tmp_path / "report.json").is_file()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    for value in state["model"].values():
        assert value.device.type == "cpu"


@pytest.mark.parametrize("task", ["mocap:residual", "cossim:so3", "orbits:rotated"])
def test_other_tasks_train_and_report_on_cuda(task, tmp_path):
    cfg = TrainConfig(**{**SMALL, "task": task}, model="per", fast_dev_run=True,
                      device="cuda")  # fmt: skip
    summary = Trainer(cfg, tmp_path).fit()
    assert torch.isfinite(torch.tensor(summary["test_mse"]))
    assert (tmp_path / "report.json").is_file()


def test_resume_on_cuda_continues_the_run(tmp_path):
    cfg = TrainConfig(**SMALL, model="per", device="cuda", checkpoint_every=1)
    whole = Trainer(cfg, tmp_path / "whole").fit()
    with pytest.raises(_InterruptedError):
        _CrashAfterEpoch3(cfg, tmp_path / "cut").fit()
    resumed = Trainer(cfg, tmp_path / "cut").fit(resume=True)
    assert resumed["epochs_run"] == whole["epochs_run"]
    # GPU kernels with atomics (index_add_) may differ in the last bits
    assert resumed["test_mse"] == pytest.approx(whole["test_mse"], rel=1e-3)


def test_cli_trains_on_cuda_and_evaluates_on_the_cpu(tmp_path):
    run = tmp_path / "run"
    train = [sys.executable, "-m", "softeq.cli", "train", "--task", "inertia:o2z",
             "--model", "per", "--device", "cuda", "--fast-dev-run", "--ch", "16",
             "--num-layers", "1", "--out", str(run)]  # fmt: skip
    subprocess.run(train, check=True, capture_output=True, text=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 1
    out = subprocess.run(
        [sys.executable, "-m", "softeq.cli", "eval", str(run), "--device", "cpu"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


@pytest.mark.filterwarnings("ignore:The AccumulateGrad node's stream")
@pytest.mark.parametrize("name", ["mlp", "emlp", "rpp", "per"])
def test_graphed_forward_matches_the_eager_model(name):
    rep_in, rep_out = _reps()
    gen = torch.Generator().manual_seed(0)
    model = build(name, rep_in, rep_out, CANDIDATES, ch=32, generator=gen).to(CUDA)
    twin = copy.deepcopy(model)
    data = torch.randn(100, rep_in.dim, device=CUDA)
    kept = data.clone()
    forward = GraphedForward(model, data[:64])
    for seed in range(3):  # replays with new inputs and the same parameters
        x, y = (t.float().to(CUDA) for t in _inputs(64, seed=seed))
        for m, f in [(model, forward), (twin, twin)]:
            m.zero_grad(set_to_none=True)
            (f(x) - y).square().mean().backward()
        for p, q in zip(model.parameters(), twin.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6)
    assert torch.equal(data, kept)  # replays never write into the sample's memory
    # other shapes, evaluation and no-grad calls run the eager model
    x = torch.randn(10, rep_in.dim, device=CUDA)
    torch.testing.assert_close(forward(x), twin(x), rtol=1e-5, atol=1e-6)
    model.eval()
    with torch.no_grad():
        x = torch.randn(64, rep_in.dim, device=CUDA)
        torch.testing.assert_close(forward(x), twin(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("model", "tuner"),
    [("per", "per"), ("per", "evidence"), ("mlp-orbit", None), ("rpp", None)],
)
def test_training_with_cuda_graphs_follows_the_eager_run(model, tuner, tmp_path):
    # batch 300 of 1000 training rows: three replays and one eager batch per epoch
    base = {**SMALL, "batch_size": 300, "model": model, "device": "cuda"}
    base.update({"tuner": tuner} if tuner else {})
    runs = {}
    for graphs in (False, True):
        out = tmp_path / str(graphs)
        trainer = Trainer(TrainConfig(**base, cuda_graphs=graphs), out)
        assert isinstance(trainer.forward, GraphedForward) == graphs
        runs[graphs] = trainer.fit()
        rows = (out / "metrics.jsonl").read_text().splitlines()
        runs[graphs]["rows"] = [json.loads(r)["train/mse"] for r in rows]
    assert runs[True]["rows"] == pytest.approx(runs[False]["rows"], rel=1e-4)
    assert runs[True]["test_mse"] == pytest.approx(runs[False]["test_mse"], rel=1e-4)


def test_cli_trains_with_cuda_graphs(tmp_path):
    run = tmp_path / "run"
    train = [sys.executable, "-m", "softeq.cli", "train", "--task", "inertia:o2z",
             "--model", "per", "--device", "cuda", "--cuda-graphs", "--epochs", "3",
             "--ch", "16", "--num-layers", "1", "--out", str(run)]  # fmt: skip
    done = subprocess.run(train, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 3


def test_discover_on_cuda_with_graphs(tmp_path):
    import numpy as np

    from softeq.data import get_task

    task = get_task("inertia:o2x")
    data = tmp_path / "o2x.npz"
    np.savez(data, x=task.x_train[:300].numpy(), y=task.y_train[:300].numpy())
    argv = [sys.executable, "-m", "softeq.cli", "discover", str(data), "--rep-in",
            "5*V0+5*V", "--rep-out", "V2", "--epochs", "3", "--json", "--device",
            "cuda", "--cuda-graphs"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {g["name"] for g in result["groups"]} == set(CANDIDATES)
