"""Numerical faults: a non-finite loss stops the run with the epoch and step named,
keeps the last good checkpoint, and the CLI reports it in one line (exit 1). The
float64 symmetry core agrees with a dense float64 computation to 1e-12."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from softeq.basis import BlockProjector, bias_projector_matrix, projector_matrix
from softeq.cli import main
from softeq.groups import get
from softeq.nn import SoftLinear
from softeq.reps import parse
from softeq.train import NonFiniteLossError, TrainConfig, Trainer, load_checkpoint
from tests.reliability._helpers import assert_one_line_error, assert_same_state

SMALL = dict(task="inertia:o2z", model="per", ch=8, num_layers=1, epochs=6,
             batch_size=500, select_after=2, eval_inputs=4, eval_transforms=2,
             checkpoint_every=1)  # fmt: skip
TINY = ["--task", "inertia:o2z", "--model", "per", "--ch", "8", "--num-layers", "1",
        "--epochs", "5", "--checkpoint-every", "1", "--eval-inputs", "2",
        "--eval-transforms", "2"]  # fmt: skip
# Float64 round-off of sums of O(100) terms of size O(1) is ~1e-14: 1e-12 leaves
# room, and is far below float32's ~1e-7 (a float32 slip would fail it).
FLOAT64_AGREEMENT = 1e-12


class _HugeTargetsAtEpoch3(Trainer):
    """Plants a target of 1e30 (finite in float32, its square is not) at epoch 3,
    after recording the state the last checkpoint should hold."""

    def _train_epoch(self):
        if self.epoch == 3:
            self.before_fault = copy.deepcopy(self._state())
            self.data["y_train"][7, 0] = 1e30
        return super()._train_epoch()


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = _HugeTargetsAtEpoch3(TrainConfig(**SMALL), tmp_path)
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite loss inf at epoch 3, step \d"
    ):
        trainer.fit()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 3
    assert_same_state(state, trainer.before_fault)  # model, optimizer, RNGs, tuner
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3


def test_cli_reports_a_non_finite_loss_in_one_line(tmp_path, capsys, monkeypatch):
    real_loss = Trainer._loss

    def nan_at_epoch_2(self, xb, yb):
        loss, mse = real_loss(self, xb, yb)
        return (loss * float("nan"), mse) if self.epoch == 2 else (loss, mse)

    monkeypatch.setattr(Trainer, "_loss", nan_at_epoch_2)
    code = main(["train", *TINY, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert_one_line_error(code, err, "non-finite loss nan at epoch 2, step 0",
                          "last good checkpoint", exit_code=1)  # fmt: skip
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 2


def test_discover_on_data_too_large_for_float32_arithmetic(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "huge.npz", x=rng.standard_normal((40, 3)),
             y=np.full((40, 1), 1e30))  # fmt: skip
    argv = ["discover", str(tmp_path / "huge.npz"), "--rep-in", "V",
            "--rep-out", "V0", "--groups", "O3,O2z", "--epochs", "2",
            "--out", str(tmp_path / "r")]  # fmt: skip
    code = main(argv)
    assert_one_line_error(code, capsys.readouterr().err, "non-finite loss",
                          "at epoch 0, step 0", exit_code=1)  # fmt: skip


def _dense_penalty(W: torch.Tensor, b: torch.Tensor, rep_in, rep_out) -> float:
    """$\\tfrac12\\|(I-P)\\,vec W\\|^2 + \\tfrac12\\|(I-P_b) b\\|^2$ from dense
    float64 projectors solved independently of the block solver."""
    P, Pb = projector_matrix(rep_in, rep_out), bias_projector_matrix(rep_out)
    w = W.reshape(-1)
    return float(0.5 * (w - P @ w).square().sum() + 0.5 * (b - Pb @ b).square().sum())


@pytest.mark.parametrize(
    "names, rep_in, rep_out",
    [
        (["O3", "O2z", "O2x"], "V0+V+V2", "V+V0"),
        (["SO4", "S4"], "V0+V", "V+V2"),
        (["Lorentz"], "V", "V+V0"),  # non-compact
    ],
)
def test_float64_penalties_match_a_dense_computation(names, rep_in, rep_out):
    groups = [get(n) for n in names]
    gen = torch.Generator().manual_seed(0)
    layer = SoftLinear(parse(rep_in, groups[0]), parse(rep_out, groups[0]), groups,
                       generator=gen)  # fmt: skip
    exact = layer.penalties(exact=True)  # float32 weights, float64 arithmetic
    W32, b32 = layer.weight.detach().double(), layer.bias.detach().double()
    layer = layer.double()
    with torch.no_grad():
        layer.weight.normal_(generator=gen)
        layer.bias.normal_(generator=gen)
    W, b = layer.weight.detach(), layer.bias.detach()
    scale = float(W.square().sum() + b.square().sum())
    scale32 = float(W32.square().sum() + b32.square().sum())
    with torch.no_grad():
        double = layer.penalties()  # the float64 training path
    for G in groups:
        a, c = parse(rep_in, G), parse(rep_out, G)
        ref32, ref = _dense_penalty(W32, b32, a, c), _dense_penalty(W, b, a, c)
        block = float(BlockProjector(a, c).residual(W, b))
        assert exact[G.name].dtype == double[G.name].dtype == torch.float64
        assert abs(float(exact[G.name]) - ref32) <= FLOAT64_AGREEMENT * scale32
        assert abs(float(double[G.name]) - ref) <= FLOAT64_AGREEMENT * scale
        assert abs(block - ref) <= FLOAT64_AGREEMENT * scale
    layer.project_(groups[-1])
    assert float(layer.penalty(groups[-1], exact=True)) <= FLOAT64_AGREEMENT * scale
