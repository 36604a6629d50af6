"""`Trainer`: the training loop, readable top to bottom."""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .._atomic import write_text_atomic
from .._progress import progress_bar
from ..data import Task, get_task
from ..groups import Group, get
from ..metrics import (
    equivariance_error,
    gaussian_inputs,
    spread_fields,
    weight_residuals,
)
from ._checkpoint import load_checkpoint, save_atomic
from ._config import TrainConfig, config_change, resolve_config
from ._cuda_graph import GraphedForward, backward
from ._run_report import build_report, write_report
from ._setup import (
    build_model,
    make_optimizer,
    make_orbit_penalty,
    make_penalty,
    make_tuner,
)
from ._stopping import EarlyStopping


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""


def cosine_lr(lr: float, epoch: int, epochs: int) -> float:
    """Per-epoch cosine decay from `lr` to 0 (the reference's schedule)."""
    return lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


#: Every `TrainConfig` field's default (for checkpoints older than a field).
_FIELD_DEFAULTS = TrainConfig().to_dict()


def held_out_mse(model: nn.Module, x: Tensor, y: Tensor, batch: int = 1000) -> float:
    """Mean squared error per target entry of `model` in eval mode, in batches
    without gradients; the model is left in the mode it was in."""
    training = model.training
    model.eval()
    with torch.inference_mode():
        total = sum(
            float((model(xb) - yb).square().sum())
            for xb, yb in zip(x.split(batch), y.split(batch), strict=True)
        )
    model.train(training)
    return total / y.numel()


#: Epochs between logged exact penalties and weight residuals (`reg/penalty/*`,
#: `reg/residual/*` in metrics.jsonl) once the tuner no longer reads them: the
#: exact pass is ~6 % of a PER epoch (benchmarks/bench_epoch.py).
RESIDUAL_EVERY = 10

#: The symmetry report's fields a run's `summary.json` repeats per group.
_SUMMARY_KEYS = (
    "equivariance_error", "true_error", "truth", "true_breaking", "cost",
    "breaking", "breaking_low", "breaking_high", "outside_data", "constrained",
    "verdict",
)  # fmt: skip


class Trainer:
    """Train one model on one task, writing a run folder.

    The run folder (`out`) receives `config.toml`, `metrics.jsonl` (one JSON line per
    epoch), `checkpoint.pt` (written atomically; loaded with `weights_only=True`),
    `summary.json` and, when matplotlib is installed, PNG plots.

    Args:
        config: The run's config; `None` fields are filled from its preset.
        out: Run folder, or None to keep nothing on disk.
        progress: Show a progress bar over epochs (needs tqdm).
        task: A ready task (otherwise built from `config.task` and `config.seed`).
        model: A ready model mapping `(batch, rep_in.dim)` to `(batch,
            rep_out.dim)` (otherwise built from `config`); it is trained as given,
            with the projection penalties of its `SoftLinear` layers if it has any,
            and `config.model` only names it in the run folder.
    """

    def __init__(
        self,
        config: TrainConfig,
        out: str | Path | None = None,
        *,
        progress: bool = False,
        task: Task | None = None,
        model: nn.Module | None = None,
    ) -> None:
        self.config = resolve_config(config)
        self.out = Path(out) if out is not None else None
        self.progress = progress
        self.task = task or get_task(self.config.task, seed=self.config.seed)
        torch.manual_seed(self.config.seed)  # modules that draw from the global RNG
        init = torch.Generator().manual_seed(self.config.seed)
        if model is None:
            model = build_model(self.config, self.task, init)
        self.model = model.to(self.config.device)
        self.penalty = make_penalty(self.model)
        #: Projection penalties as proximal steps after each optimiser step
        #: (`TrainConfig.penalty_mode`), not in the loss.
        self.proximal = self.config.penalty_mode == "proximal"
        if self.proximal and self.penalty is None:
            raise ValueError(
                f"penalty_mode 'proximal' needs a model with SoftLinear layers "
                f"(e.g. 'per'); {self.config.model!r} has none"
            )
        if self.config.init == "equivariant":
            if self.penalty is None:
                raise ValueError(
                    f"init 'equivariant' needs a model with SoftLinear layers "
                    f"(e.g. 'per'); {self.config.model!r} has none"
                )
            self.penalty.project(self.task.groups[0])
        #: The group the hidden soft layers are held on (`TrainConfig.hidden_strength`):
        #: the one their nonlinearities are built for (`TrainConfig.nonlinear_group`,
        #: by default the largest candidate); None without the prior.
        self.hidden_group: str | None = None
        if self.config.hidden_strength > 0:
            if self.penalty is None:
                raise ValueError(
                    f"hidden_strength needs a model with SoftLinear layers "
                    f"(e.g. 'per'); {self.config.model!r} has none"
                )
            self.hidden_group = self.config.nonlinear_group or self.task.groups[0]
            self.penalty.hidden(self.hidden_group)  # one soft layer: fails here
        self.orbit = make_orbit_penalty(self.config, self.task, self.model)
        self.orbit_samples = torch.Generator().manual_seed(self.config.seed + 2)
        self.orbit_sums: dict[str, float] = {}
        self.tuner = make_tuner(self.config, self.task)
        #: The symmetry report of the selected model, set by `evaluate`.
        self.report: dict[str, Any] | None = None
        self.optimizer = make_optimizer(self.model, self.config)
        self.shuffle = torch.Generator().manual_seed(self.config.seed + 1)
        self.epoch = 0
        self.best: dict[str, Any] | None = None
        cfg = self.config
        self.stopping = EarlyStopping(
            patience=cfg.patience, smoothing=cfg.smoothing,
            min_improvement=cfg.min_improvement, lr_drops=cfg.lr_drops,
            start=min(cfg.select_after, cfg.epochs - 1),
        )  # fmt: skip
        self.stop_reason: str | None = None
        self.metrics_lines = 0
        self.train_seconds, self.train_steps = 0.0, 0  # this process only
        dev = self.config.device
        self.data = {
            k: getattr(self.task, k).to(dev)
            for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
        }
        #: The training forward: the model, or its CUDA-graph replay.
        self.forward: Callable[[Tensor], Tensor] = self.model
        if self.config.cuda_graphs:
            rows = min(self.config.batch_size, len(self.data["x_train"]))
            self.forward = GraphedForward(self.model, self.data["x_train"][:rows])

    # -- one epoch --------------------------------------------------------------------

    def _loss(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        prediction = self.forward(xb)
        mse = (prediction - yb).square().mean()
        loss = mse
        terms = {}
        if self.penalty is not None and not self.proximal:
            terms = self.penalty()
        elif self.orbit is not None:
            terms = self.orbit(xb, generator=self.orbit_samples, fx=prediction)
            for name, value in terms.items():
                total = self.orbit_sums.get(name, 0.0) + float(value.detach())
                self.orbit_sums[name] = total
        for name, strength in self.tuner.strengths.items():
            if strength and name in terms:
                loss = loss + strength * terms[name]
        return loss, mse

    def _train_epoch(self) -> dict[str, float]:
        x, y = self.data["x_train"], self.data["y_train"]
        lr = self._lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(len(x), generator=self.shuffle).to(x.device)
        batches = order.split(self.config.batch_size)
        if self.config.fast_dev_run:
            batches = batches[:1]
        total, total_mse = 0.0, 0.0
        start = time.perf_counter()
        for step, idx in enumerate(batches):
            self.optimizer.zero_grad(set_to_none=True)
            loss, mse = self._loss(x[idx], y[idx])
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"non-finite loss {float(loss.detach())} at epoch {self.epoch}, "
                    f"step {step}; "
                    "the last good checkpoint is kept"
                )
            backward(loss)
            self.optimizer.step()
            if self.proximal:
                self.penalty.proximal_step(self.tuner.strengths, lr)
            if self.hidden_group is not None:  # decoupled, whatever penalty_mode
                self.penalty.proximal_hidden(
                    self.hidden_group, self.config.hidden_strength, lr
                )
            total += float(loss.detach())
            total_mse += float(mse.detach())
        n = len(batches)
        # optimisation time only (no evaluation): ms/step in benchmark tables
        self.train_seconds += time.perf_counter() - start
        self.train_steps += n
        return {"lr": lr, "train/loss": total / n, "train/mse": total_mse / n,
                "batches": n}  # fmt: skip

    def _lr(self) -> float:
        """This epoch's learning rate: cosine, or constant between plateau drops."""
        if self.config.lr_schedule == "cosine":
            return cosine_lr(self.config.lr, self.epoch, self.config.epochs)
        return self.config.lr * self.stopping.lr_factor

    def _symmetry_metrics(self, train_mse: float, n_batches: int) -> dict[str, float]:
        if self.orbit is not None:
            means = {k: v / n_batches for k, v in self.orbit_sums.items()}
            self.orbit_sums = {}
            row = {f"reg/orbit/{k}": v for k, v in means.items()}
            row.update(
                {f"reg/strength/{k}": v for k, v in self.tuner.strengths.items()}
            )
            self.tuner.step(self.epoch, means, self.model, train_mse=train_mse,
                            val=self._val())  # fmt: skip
            row.update(self._tuner_diagnostics())
            return row
        if self.penalty is None:
            return {}
        row: dict[str, float] = {}
        if not self.tuner.reads_penalties(self.epoch) and not self._logs_residuals():
            # the strengths cannot change this epoch: skip the exact pass
            return {f"reg/strength/{k}": v for k, v in self.tuner.strengths.items()}
        # one exact pass gives both the penalties and the normalised residuals
        residuals = weight_residuals(self.model)
        penalties = {name: float(entry["penalty"]) for name, entry in residuals.items()}
        for name, entry in residuals.items():
            row[f"reg/penalty/{name}"] = penalties[name]
            row[f"reg/strength/{name}"] = self.tuner.strengths[name]
            row[f"reg/residual/{name}"] = float(entry["total"])
        self.tuner.step(self.epoch, penalties, self.model, train_mse=train_mse,
                        inputs=self.data["x_train"], val=self._val())  # fmt: skip
        row.update(self._tuner_diagnostics())
        return row

    def _logs_residuals(self) -> bool:
        """Epochs whose exact penalties and residuals are logged even when the
        tuner does not read them: every `RESIDUAL_EVERY`-th and the cap's last."""
        return (self.epoch % RESIDUAL_EVERY == 0
                or self.epoch == self.config.epochs - 1)  # fmt: skip

    def _val(self) -> tuple[Tensor, Tensor]:
        """The validation split, for tuners that read held-out data."""
        return self.data["x_val"], self.data["y_val"]

    def _tuner_diagnostics(self) -> dict[str, float]:
        """The tuner's `diagnostics()` of this epoch's step, as ``tuner/...``."""
        return {f"tuner/{k}": float(v) for k, v in self.tuner.diagnostics().items()}

    # -- selection, checkpoints -------------------------------------------------------

    def _select(self, val: float) -> bool:
        """Keep the best validation model after `select_after`; True to stop.

        Stopping (and the plateau schedule's drops) follow `EarlyStopping` on the
        smoothed curve; the kept model is the best raw validation MSE.
        """
        last = self.config.epochs - 1
        action = self.stopping.update(val)
        if self.epoch + 1 > min(self.config.select_after, last) and (
            self.best is None or val < self.best["val"]
        ):
            state = copy.deepcopy(self.model.state_dict())
            self.best = {"epoch": self.epoch, "val": val, "model": state}
        if action == "stop":
            plateau = self.config.lr_schedule == "plateau"
            self.stop_reason = "converged" if plateau else "patience"
        return action == "stop"

    def _state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "tuner": self.tuner.state_dict(),
            "shuffle": self.shuffle.get_state(),
            "orbit_samples": self.orbit_samples.get_state(),
            "stop_reason": self.stop_reason,
            "best": self.best,
            "stopping": self.stopping.state_dict(),
            "metrics_lines": self.metrics_lines,
            "config": self.config.to_dict(),
        }

    def save_checkpoint(self) -> None:
        """Write `checkpoint.pt` atomically (no-op without a run folder)."""
        if self.out is not None:
            save_atomic(self._state(), self.out / "checkpoint.pt")

    def resume(self) -> bool:
        """Continue from `out/checkpoint.pt` if present; True when resumed.

        The checkpoint's config must be this config, or this config with a lower
        epoch cap under the plateau schedule (`config_change`): a run stopped by
        its cap then trains on to the new cap exactly as it would have with that
        cap from the start. A run its rule had stopped stays finished.

        Raises:
            ValueError: The config differs otherwise, or the checkpoint does not
                fit the model.
        """
        if self.out is None or not (self.out / "checkpoint.pt").is_file():
            return False
        state = load_checkpoint(self.out / "checkpoint.pt")
        # a field added after the checkpoint was written reads as its default
        saved = {**_FIELD_DEFAULTS, **state["config"]}
        current = self.config.to_dict()
        if config_change(saved, current) == "different":
            diff = sorted(k for k, v in current.items()
                          if k != "fast_dev_run" and saved.get(k) != v)  # fmt: skip
            raise ValueError(f"cannot resume {self.out}: config differs in {diff}")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:  # shapes or names
            message = " ".join(str(err).split())[:300]
            raise ValueError(
                f"cannot resume {self.out}: checkpoint.pt does not fit the model: "
                f"{message}"
            ) from None
        self.tuner.load_state_dict(state["tuner"])
        self.shuffle.set_state(state["shuffle"])
        self.orbit_samples.set_state(state["orbit_samples"])
        self.epoch, self.best = int(state["epoch"]), state["best"]
        if "stopping" in state:
            self.stopping.load_state_dict(state["stopping"])
        else:  # a checkpoint from before EarlyStopping: the raw-curve rule
            self.stopping.restore_reference(
                bad_epochs=int(state.get("bad_epochs", 0)), epochs_seen=self.epoch,
                best_val=None if self.best is None else float(self.best["val"]),
            )  # fmt: skip
        self.stop_reason = state.get("stop_reason")
        self.metrics_lines = int(state["metrics_lines"])
        self._truncate_metrics()
        return True

    def _truncate_metrics(self) -> None:
        """Drop rows logged after the checkpoint, in place and without rewriting
        the kept ones (a kill during a resume cannot lose them)."""
        path = self.out / "metrics.jsonl"
        if path.is_file():
            lines = path.read_bytes().splitlines(keepends=True)
            os.truncate(path, sum(len(line) for line in lines[: self.metrics_lines]))

    def _log(self, row: dict[str, Any]) -> None:
        if self.out is None:
            return
        with (self.out / "metrics.jsonl").open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        self.metrics_lines += 1

    # -- the loop ---------------------------------------------------------------------

    def fit(self, *, resume: bool = False) -> dict[str, Any]:
        """Train, select the best validation model, evaluate it; return the summary."""
        # resume first: a refused resume must leave the run folder as it was
        resumed = resume and self.resume()
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out / "config.toml", self.config.to_toml())
            if not resumed:  # no checkpoint: rows of an earlier attempt go
                (self.out / "metrics.jsonl").write_text("")
        every = self.config.checkpoint_every or max(1, self.config.epochs // 100)
        bar = self._progress_bar()
        # a checkpoint written as its rule stopped the run is a finished run
        stop = self.stop_reason is not None
        while self.epoch < self.config.epochs and not stop:
            row, stop = self.run_epoch()
            if self.epoch % every == 0 or stop or self.epoch == self.config.epochs:
                self.save_checkpoint()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(val_mse=f"{row['val/mse']:.4g}")
        if bar is not None:
            bar.close()
        if self.stop_reason is None and self.epoch >= self.config.epochs:
            self.stop_reason = "epoch cap"
        return self.evaluate()

    def run_epoch(self) -> tuple[dict[str, Any], bool]:
        """One epoch as `fit` runs it: the optimisation steps, the validation
        MSE, the penalties and the tuner's step, model selection and the early
        stopping rule, and its row in `metrics.jsonl` (no checkpoint); returns
        the row and whether training should stop."""
        row = {"epoch": self.epoch, **self._train_epoch()}
        row["val/mse"] = held_out_mse(
            self.model, self.data["x_val"], self.data["y_val"]
        )
        row.update(self._symmetry_metrics(row["train/mse"], row.pop("batches")))
        stop = self._select(row["val/mse"])
        if self.config.fast_dev_run and not stop:
            stop, self.stop_reason = True, "fast_dev_run"
        self._log(row)
        self.epoch += 1
        return row, stop

    def _progress_bar(self):
        if not self.progress:
            return None
        return progress_bar(
            total=self.config.epochs,
            initial=self.epoch,
            desc=f"{self.config.model} on {self.config.task}",
            leave=False,
            mininterval=0.5,
        )

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self) -> dict[str, Any]:
        """Test MSE (with `softeq.metrics.spread_fields`: the MSE without the
        worst 1 % of test points, the median point's error, that 1 %'s share)
        and per-group equivariance errors of the selected model."""
        if self.best is not None:
            self.model.load_state_dict(self.best["model"])
        cfg, task, data = self.config, self.task, self.data
        summary: dict[str, Any] = {
            "task": task.name, "model": cfg.model, "seed": cfg.seed,
            "epochs_run": self.epoch,
            "best_epoch": None if self.best is None else self.best["epoch"],
            "stop_reason": self.stop_reason,
            "val_mse": held_out_mse(self.model, data["x_val"], data["y_val"]),
            "test_mse": held_out_mse(self.model, data["x_test"], data["y_test"]),
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "strengths": (
                dict(self.tuner.strengths)
                if self.penalty is not None or self.orbit is not None
                else {}
            ),
        }  # fmt: skip
        # how much of the test MSE its worst 1 % of points carry
        summary.update(spread_fields(self.model, data["x_test"], data["y_test"]))
        summary.update(self._task_metrics())
        self.report = build_report(
            self.model, task, summary,
            x_test=self.data["x_test"], y_test=self.data["y_test"],
            strengths=(
                self.tuner.strengths
                if self.penalty is not None or self.orbit is not None
                else None
            ),
            n_samples=cfg.eval_transforms,
            constraints=self._orbit_constraints(),
        )  # fmt: skip
        summary["groups"] = self._group_summary(self.report)
        if self.out is not None:
            summary_text = json.dumps(summary, indent=2) + "\n"
            write_text_atomic(self.out / "summary.json", summary_text)
            write_report(self.report, self.out, model=self.model, task=task,
                         x_test=self.data["x_test"])  # fmt: skip
            self._plots()
        return summary

    def _orbit_constraints(self) -> list[tuple[Group, str]]:
        """The orbit penalty's pulls, for the report (`OrbitPenalty.constraints`)."""
        if self.orbit is None:
            return []
        return self.orbit.constraints(self.tuner.strengths)

    def _task_metrics(self) -> dict[str, float]:
        """The task's own test metrics (e.g. ADE/FDE in metres), as ``test_<name>``."""
        if self.task.metrics is None:
            return {}
        x, y = self.data["x_test"], self.data["y_test"]
        self.model.eval()
        with torch.no_grad():
            prediction = torch.cat([self.model(xb) for xb in x.split(1000)])
        self.model.train()
        return {f"test_{k}": v for k, v in self.task.metrics(prediction, y).items()}

    def _group_summary(self, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per candidate, in task order: the report's numbers (one measurement per
        run: `summary.json` and `report.json` agree) and the model's equivariance
        error on `eval_inputs` Gaussian inputs (the reference's measurement)."""
        cfg, task = self.config, self.task
        rep_in, rep_out = task.reps()
        gen = torch.Generator().manual_seed(2022)
        gaussian = gaussian_inputs(rep_in, cfg.eval_inputs, generator=gen).to(
            self.data["x_test"].device
        )
        entries = {e["name"]: e for e in report["groups"]}
        self.model.eval()
        out: dict[str, dict[str, Any]] = {}
        for name in task.groups:
            G = get(name)
            entry = entries[name]
            out[name] = {k: entry[k] for k in _SUMMARY_KEYS}
            out[name]["equivariance_error_gaussian"] = equivariance_error(
                self.model, rep_in, rep_out, G, gaussian, cfg.eval_transforms,
                generator=torch.Generator().manual_seed(0), scale=G.sample_scale,
            )  # fmt: skip
        self.model.train()
        return out

    def _plots(self) -> None:
        try:
            from ._plots import plot_run
        except ImportError:  # plots are an optional extra (matplotlib)
            return
        plot_run(self.out)
