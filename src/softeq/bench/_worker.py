"""Run one grid cell in a run folder: resumable, single-threaded, never raising."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._atomic import write_text_atomic
from ..train import TrainConfig, config_change, load_config, resolve_config
from ._revisions import RECORD_KEY, missing_revisions, revisions_for
from ._suites import FIT_CARRIERS, RunSpec

#: File whose presence marks a finished run (JSON; never pickle).
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
#: The revisions a run folder's training started under (`_revisions`), so that a
#: checkpoint of older code is not resumed.
REVISIONS_FILE = "revisions.json"


def write_json_atomic(data: Any, path: Path) -> None:
    """Write `data` as JSON, atomically (`softeq._atomic.write_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def finished_result(
    spec: RunSpec, root: Path, *, update: bool = True
) -> dict[str, Any] | None:
    """The stored result of `spec` under `root` if that run finished, else None.

    A result stored for a different spec in the same folder (e.g. another
    protocol), or made with another resolved config (the preset's definition
    changed since), does not count: the run is redone. A run its rule stopped
    before the cap still counts when only the cap has been raised since
    (`softeq.train.config_change`); its stored config is updated to the new cap.
    A run stopped by the cap does not: it resumes from its checkpoint. A run
    trained before a change of code that applies to it (`softeq.bench._revisions`:
    its record does not name the revision) does not count either. A fit
    method (``auto*``) is checked the same way on the configs its stages' models
    resolve to (`_stage_configs`) and on `softeq.fit`'s own settings
    (`_fit_constants`) and on the groups its stored evidence leads today's plan
    rules to impose (`_imposed_sets`), and never resumes. With `update`
    False nothing is written.
    """
    judged = _judge(spec, Path(root))
    if judged is None:
        return None
    path, result, change, updated, _ = judged
    if not _counts(change, result):
        return None
    if change == "raised cap":
        result = {**result, "config": updated}
        if update:
            write_json_atomic(result, path)
    return result


def stale_reason(spec: RunSpec, root: str | Path) -> str | None:
    """Why the result stored for `spec` under `root` does not count (the run
    is trained again or resumed), in words; None when none is stored or it
    counts (`finished_result`)."""
    judged = _judge(spec, Path(root))
    if judged is None or _counts(judged[2], judged[1]):
        return None
    _, result, change, _, reasons = judged
    if reasons:
        return "; ".join(reasons)
    if change == "raised cap" and _capped(result):
        return "the epoch cap stopped it and the cap has been raised"
    return "its preset resolves to another config today"


def _judge(
    spec: RunSpec, root: Path
) -> tuple[Path, dict[str, Any], str, dict[str, Any] | None, list[str]] | None:
    """The result stored for `spec` under `root` against today's config: its
    path, the record, the `config_change` answer, the config to store if it
    stands, and the reasons beyond the preset that retrain it (a record of
    another spec in the run's folder; for the fit methods, their own checks).
    None when no readable record is stored."""
    path = root / spec.run_id / RESULT_FILE
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if result.get("spec") != spec.to_dict():
        other = (result.get("spec") or {}).get("protocol")
        what = "other settings" if other == spec.protocol else f"protocol {other}"
        return path, result, "different", None, [f"a run with {what} is stored there"]
    config = result.get("config") or {}
    if _is_fit(spec):
        change, updated, reasons = _judge_fit(spec, config, result)
        return path, result, change, updated, reasons
    current = _resolved_config(spec)
    if current is None:
        return path, result, "different", None, []
    reasons = [r.reason() for r in missing_revisions(result, [current])]
    change = "different" if reasons else config_change(config, current)
    return path, result, change, current, reasons


def _judge_fit(
    spec: RunSpec, config: dict[str, Any], result: dict[str, Any]
) -> tuple[str, dict[str, Any], list[str]]:
    """`_judge` of a fit method's stored record: the `config_change` answer over
    its stages, the config to store if it stands, and the reasons beyond the
    presets that retrain it."""
    reasons: list[str] = []
    saved, current = config.get("stages") or {}, _stage_configs(spec)
    changes = [config_change(saved.get(m) or {}, c) for m, c in current.items()]
    if "different" in changes:
        reasons.append("a stage's preset resolves to another config today")
    if config.get("constants", _FIT_CONSTANTS_BEFORE) != _fit_constants():
        reasons.append("softeq.fit's settings changed")
    sets = _imposed_sets(result.get("summary") or {})
    if sets is not None and sets[0] != sets[1]:
        tried, today = (", ".join(s) or "none" for s in sets)
        reasons.append(f"today's plan rules impose {today} from its evidence; "
                       f"it tried {tried}")  # fmt: skip
    reasons += [r.reason() for r in missing_revisions(result, current.values())]
    if reasons or not changes:
        changes.append("different")
    change = max(changes, key=_CHANGES.index)
    epochs = dict(spec.overrides).get("epochs") or _cap(spec)
    updated = {**config, "stages": current, "epochs": epochs,
               "constants": _fit_constants()}  # fmt: skip
    return change, updated, reasons


def _counts(change: str, result: Mapping[str, Any]) -> bool:
    """Whether a stored result with this `config_change` answer stands: the
    same config, or only a raised cap under which its rule (not the cap)
    stopped it."""
    return change == "same" or (change == "raised cap" and not _capped(result))


def _capped(result: Mapping[str, Any]) -> bool:
    """Whether a stored run was stopped by its epoch cap."""
    return "epoch cap" in str((result.get("summary") or {}).get("stop_reason"))


#: `config_change` answers, mildest first.
_CHANGES = ("same", "raised cap", "different")


def _is_fit(spec: RunSpec) -> bool:
    return dict(spec.overrides).get("model") == "auto"


def _fit_constants() -> dict[str, Any]:
    """`softeq.fit`'s own settings that a fit cell's result depends on beyond
    its stages' presets (`softeq.auto.TOP_STRENGTH`, `HIDDEN_STRENGTH`,
    `AVERAGE_ELEMENTS`): a fit cell stores them, and a change retrains it."""
    from ..auto import AVERAGE_ELEMENTS, HIDDEN_STRENGTH, TOP_STRENGTH

    return {"top_strength": dict(TOP_STRENGTH), "hidden_strength": HIDDEN_STRENGTH,
            "average_elements": AVERAGE_ELEMENTS}  # fmt: skip


def _imposed_sets(
    summary: Mapping[str, Any],
) -> tuple[list[str], list[str]] | None:
    """The groups a fit record's imposed stages trained and those today's plan
    rules (`softeq.auto.groups_to_impose`) choose from its stored evidence,
    each sorted; a fit cell is retrained when they differ.

    The rules are a function of the evidence's per-group readings, which the
    record's plan keeps (verdict, breaking and its interval), so a change of
    rule retrains exactly the cells it would change (plan rule 4 changed only
    fits whose evidence reads every candidate broken). None when the record
    cannot say (no plan stored).
    """
    from ..auto import groups_to_impose, imposed_group

    plan, tried = summary.get("plan"), summary.get("candidates")
    if not plan or tried is None:
        return None
    keys = ("name", "verdict", "breaking", "breaking_low", "breaking_high")
    report = {"groups": [{k: c.get(k) for k in keys} for c in plan]}
    groups = [c["name"] for c in plan]
    imposed = {g for key in tried if (g := imposed_group(key)) is not None}
    return sorted(imposed), sorted(groups_to_impose(report, groups))


#: `_fit_constants` of fit cells recorded before they were stored: the values
#: `softeq.fit` has had since it was written (unchanged to 2026-12-06).
_FIT_CONSTANTS_BEFORE = {"top_strength": {"orbit": 1.0, "projection": 100.0},
                         "hidden_strength": 1e4, "average_elements": 16}  # fmt: skip


def _stage_configs(spec: RunSpec) -> dict[str, dict[str, Any]]:
    """What the preset of a fit method's `spec` resolves to today, per model its
    stages train (the MLP and the method's ``fit_model``): the fit's record
    stores them, and a change in either retrains it. Empty when `spec` does not
    resolve (the run will fail and say why)."""
    overrides = dict(spec.overrides)
    models = sorted({"mlp", overrides.get("fit_model", "mlp")}
                    | {FIT_CARRIERS[c].model for c in
                       overrides.get("fit_carriers", "").split(",") if c})  # fmt: skip
    epochs = overrides.get("epochs")
    nonlinear = overrides.get("fit_nonlinear_group")
    try:
        return {m: resolve_config(TrainConfig(
                    task=spec.task, model=m, epochs=epochs, preset=spec.protocol,
                    nonlinear_group=nonlinear if m == "per" else None)).to_dict()
                for m in models}  # fmt: skip
    except (TypeError, ValueError):
        return {}


def _resolved_config(spec: RunSpec) -> dict[str, Any] | None:
    """The `TrainConfig` dict `spec` trains with today; None for the fit
    methods (``auto*``) and for specs that do not resolve (the run will fail
    and say why)."""
    if _is_fit(spec):
        return None
    try:
        return resolve_config(TrainConfig(**spec.config_dict())).to_dict()
    except (TypeError, ValueError):
        return None


def planned_action(spec: RunSpec, root: str | Path) -> str:
    """What running `spec` under `root` would do, without doing it: ``"keep"``
    (a finished result counts, `finished_result`), ``"resume"`` (a checkpoint of
    this config, or of it with a lower cap, `softeq.train.config_change`) or
    ``"train"`` (from scratch). A fit method (``auto*``) never resumes."""
    root = Path(root)
    if finished_result(spec, root, update=False) is not None:
        return "keep"
    current = _resolved_config(spec)
    if current is not None and _resumable(root / spec.run_id, current):
        return "resume"
    return "train"


def execute_before(
    spec: RunSpec, root: str | Path, deadline: float | None
) -> dict[str, Any]:
    """`execute(spec, root)` unless the wall clock (`time.time`) has passed
    `deadline`; then nothing is trained and the record is
    ``{"spec", "status": "not started"}`` (a grid's time limit: a run that has
    started is never cut short)."""
    if deadline is not None and time.time() >= deadline:
        return {"spec": spec.to_dict(), "status": "not started"}
    return execute(spec, root)


def execute(spec: RunSpec, root: str | Path) -> dict[str, Any]:
    """Train `spec` into ``root/spec.run_id`` and return its result record.

    A finished run is returned as stored (``status: "skipped"``); a run with a
    checkpoint resumes from it (bit-identically on CPU). Training is
    single-threaded so that parallel runs do not compete and numbers do not depend
    on the executor. Any exception becomes ``status: "failed"`` with the
    traceback in ``error.txt``: one failed run never stops a grid.

    Returns:
        ``{"spec", "status": "ok", "summary", "config", "resumed", "steps",
        "wall_s", "ms_per_step"}`` for a run that trained (`ms_per_step`: the
        optimisation steps alone, without evaluation);
        ``{"spec", "status": "failed", "error"}`` otherwise.
    """
    root = Path(root)
    done = finished_result(spec, root)
    if done is not None:
        return {**done, "status": "skipped"}
    torch.set_num_threads(1)
    out = root / spec.run_id
    try:
        return _train(spec, out)
    except Exception as err:  # noqa: BLE001 -- reported, the grid goes on
        out.mkdir(parents=True, exist_ok=True)
        (out / ERROR_FILE).write_text(traceback.format_exc())
        message = str(err).splitlines()[0] if str(err) else ""
        return {"spec": spec.to_dict(), "status": "failed",
                "error": f"{type(err).__name__}: {message}"}  # fmt: skip


def _resumable(out: Path, current: dict[str, Any]) -> bool:
    """True when `out` holds a checkpoint of config `current`, or of it with a
    lower epoch cap under the plateau schedule (resume it), started under every
    revision that applies to it (`REVISIONS_FILE`); a folder left by another
    protocol or by older code is trained afresh."""
    if not (out / "checkpoint.pt").is_file() or not (out / "config.toml").is_file():
        return False
    try:
        started = {RECORD_KEY: json.loads((out / REVISIONS_FILE).read_text())}
    except (OSError, ValueError):  # none recorded: started before any revision
        started = {}
    if missing_revisions(started, [current]):
        return False
    try:
        saved = load_config(out / "config.toml").to_dict()
    except (OSError, ValueError):  # an unreadable config: start over
        return False
    return config_change(saved, current) != "different"


def late_gain(run_dir: Path) -> float | None:
    """How much validation MSE still improved in the last quarter of training:
    $(v_{3/4} - \\min_{t \\ge 3/4} v_t) / v_{3/4}$ from ``metrics.jsonl`` (near 0 when
    the learning curve has flattened), or None without metrics."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    val = [json.loads(line)["val/mse"] for line in path.read_text().splitlines()]
    if len(val) < 4:
        return None
    start = val[(3 * len(val)) // 4]
    return (start - min(val[(3 * len(val)) // 4 :])) / start if start > 0 else 0.0


def _train(spec: RunSpec, out: Path) -> dict[str, Any]:
    from ..train import Trainer

    if _is_fit(spec):
        return _fit(spec, out)
    trainer = Trainer(TrainConfig(**spec.config_dict()), out)
    config = trainer.config.to_dict()
    resume = _resumable(out, config)
    for stale in (ERROR_FILE, RESULT_FILE):
        (out / stale).unlink(missing_ok=True)
    revisions = revisions_for([config])
    if not resume:  # a checkpoint left here is not this run's start
        out.mkdir(parents=True, exist_ok=True)
        (out / "checkpoint.pt").unlink(missing_ok=True)
        write_json_atomic(revisions, out / REVISIONS_FILE)
    start = time.perf_counter()
    summary = trainer.fit(resume=resume)
    steps = max(1, trainer.train_steps)
    result = {
        "spec": spec.to_dict(),
        "status": "ok",
        "summary": summary,
        "config": trainer.config.to_dict(),
        "resumed": resume,
        "steps": trainer.train_steps,
        "wall_s": time.perf_counter() - start,
        "ms_per_step": 1000 * trainer.train_seconds / steps,
        "late_gain": late_gain(out),
        RECORD_KEY: revisions,
    }
    write_json_atomic(result, out / RESULT_FILE)
    return result


def _fit(spec: RunSpec, out: Path) -> dict[str, Any]:
    """Methods ``auto``, ``auto-per``, ``auto-per-hidden``, ``auto-per-choose``
    and ``auto-emlp``: `softeq.auto.fit_task` with the method's model
    (``fit_model``: an MLP unless told otherwise; ``fit_hidden``: its `hidden`
    prior, True or ``"choose"``; ``fit_nonlinear_group``: its SoftEMLP's
    `nonlinear_group`; ``fit_soft_tuner``: its `soft_tuner`; ``fit_soft``: its
    `soft`), told
    only the candidates; its stages' run folders go under `out` (not
    resumable: a killed fit starts over)."""
    from ..auto import fit_task
    from ..data import get_task
    from ..groups import get
    from ..metrics import equivariance_error

    for stale in (ERROR_FILE, RESULT_FILE):
        (out / stale).unlink(missing_ok=True)
    task = get_task(spec.task, seed=spec.seed)
    overrides = dict(spec.overrides)
    epochs = overrides.get("epochs")
    kind: Any = overrides.get("fit_model", "mlp")
    label = kind  # the summary's `fit_model`: the model, or the carriers' names
    if "fit_carriers" in overrides:  # `auto-carriers`: several models, one each
        label = overrides["fit_carriers"]
        kind = [FIT_CARRIERS[name] for name in label.split(",")]
    start = time.perf_counter()
    # a spec without `fit_soft_tuner` is a method recorded with the breaking tuner
    result = fit_task(task, model=kind, preset=spec.protocol, epochs=epochs,
                      seed=spec.seed, out=out,
                      hidden=overrides.get("fit_hidden", False),
                      soft=overrides.get("fit_soft"),
                      nonlinear_group=overrides.get("fit_nonlinear_group"),
                      soft_tuner=overrides.get("fit_soft_tuner",
                                               "breaking"))  # fmt: skip
    history = result.history
    rep_in, rep_out = task.reps()
    x = task.x_val[:256]
    entries = {e["name"]: e for e in result.report["groups"]}
    groups = {}
    for name in task.groups:
        G = get(name)
        error = equivariance_error(
            result.model, rep_in, rep_out, G, x, 16,
            generator=torch.Generator().manual_seed(0), scale=G.sample_scale,
        )  # fmt: skip
        groups[name] = {"truth": task.truth.get(name), "equivariance_error": error,
                        "verdict": entries[name]["verdict"],
                        "breaking": entries[name]["breaking"]}  # fmt: skip
    reasons = {h["stage"]: h["stop_reason"] for h in history}
    converged = all(r == "converged" for r in reasons.values())
    summary = {
        "task": task.name, "model": "auto", "fit_model": label, "seed": spec.seed,
        "test_mse": result.test_mse, "val_mse": result.val_mse[result.candidate],
        **{f"test_{k}": v for k, v in result.test_metrics.items()},
        "num_parameters": sum(p.numel() for p in result.model.parameters()),
        "epochs_run": sum(h["epochs_run"] for h in history),
        "stop_reason": "converged" if converged else
        "; ".join(f"{k}: {v}" for k, v in reasons.items()),
        "strengths": {c.name: c.strength for c in result.plan if c.strength},
        "chosen": result.chosen, "imposed": result.imposed, "hidden": result.hidden,
        "carrier": result.carrier, "carriers": result.carriers,
        "plan": [c.to_dict() for c in result.plan], "candidates": result.val_mse,
        "history": history, "groups": groups,
    }  # fmt: skip
    steps = max(1, sum(h["steps"] for h in history))
    first = result.spec
    stages = _stage_configs(spec)
    record = {
        "spec": spec.to_dict(), "status": "ok", "summary": summary,
        "config": {"epochs": epochs or _cap(spec), "fit": first,
                   "stages": stages, "constants": _fit_constants()},
        RECORD_KEY: revisions_for(stages.values()),
        "resumed": False, "steps": steps, "wall_s": time.perf_counter() - start,
        "ms_per_step": 1000 * sum(h["train_seconds"] for h in history) / steps,
    }  # fmt: skip
    write_json_atomic(record, out / RESULT_FILE)
    return record


def _cap(spec: RunSpec) -> int:
    """The epoch cap of a stage of `spec`'s protocol (from its MLP config)."""
    return resolve_config(TrainConfig(task=spec.task, model="mlp",
                                      preset=spec.protocol)).epochs  # fmt: skip
