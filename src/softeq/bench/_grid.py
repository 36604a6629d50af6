"""`run_grid`: run a list of `RunSpec`s into a results folder, resumably."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._progress import progress_bar
from ._aggregate import METRICS, _key, recorded_runs
from ._executors import LocalExecutor, RayExecutor
from ._suites import RunSpec
from ._worker import RESULT_FILE, finished_result, write_json_atomic

GRID_FILE = "grid.json"


#: What a re-check compares: the test metrics a run records, and its epoch count
#: (where early stopping ended it).
RECHECKED = (*METRICS, "epochs_run")


@dataclass(frozen=True)
class Recheck:
    """A run trained again whose earlier result the folder kept only as a line of
    its ``runs.jsonl`` (folders committed before git kept each run's
    ``result.json``): that line's numbers (`RECHECKED`) and the new run's. Training
    is deterministic on CPU, so the same code and config give the same numbers to
    the bit; a difference says the number in the tables is not what today's code
    gives."""

    run_id: str
    recorded: dict[str, float]
    now: dict[str, float]

    @property
    def equal(self) -> bool:
        """Whether every number recorded then was measured again to the bit."""
        return self.recorded == self.now

    def describe(self) -> str:
        """One line: the numbers that differ, recorded then and measured now."""
        if self.equal:
            return f"{self.run_id}: the same to the bit"
        nan = float("nan")
        diff = ", ".join(
            f"{k} {then:.6g} recorded, {self.now.get(k, nan):.6g} now"
            for k, then in self.recorded.items()
            if then != self.now.get(k)
        )
        return f"{self.run_id}: {diff}"


@dataclass
class GridResult:
    """What a grid did: every result record, and the failed ones by run id;
    `rechecked`: the runs it trained again that the folder recorded only in
    ``runs.jsonl``, each compared with that record."""

    results: list[dict[str, Any]] = field(default_factory=list)
    rechecked: list[Recheck] = field(default_factory=list)

    def _with(self, status: str) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == status]

    @property
    def ran(self) -> list[dict[str, Any]]:
        """Runs trained by this call."""
        return self._with("ok")

    @property
    def skipped(self) -> list[dict[str, Any]]:
        """Runs found finished and not redone."""
        return self._with("skipped")

    @property
    def not_started(self) -> list[dict[str, Any]]:
        """Runs left for a later call by the grid's time limit."""
        return self._with("not started")

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Runs that raised; their traceback is in ``RUN/error.txt``."""
        return self._with("failed")


def read_grid(root: Path) -> dict[str, Any]:
    """``root/grid.json`` (``{"runs": [...], "commands": [...]}``), empty if absent."""
    path = root / GRID_FILE
    try:
        data = json.loads(path.read_text())
        return {"runs": list(data["runs"]), "commands": list(data["commands"])}
    except (OSError, ValueError, KeyError, TypeError):
        return {"runs": [], "commands": []}


def _record_grid(specs: list[RunSpec], root: Path, command: str | None) -> None:
    """Merge the specs and the command into ``root/grid.json``."""
    grid = read_grid(root)
    known = {r["run_id"]: r for r in grid["runs"]}
    for s in specs:
        known[s.run_id] = {"run_id": s.run_id, **s.to_dict()}
    commands = grid["commands"]
    if command and command not in commands:
        commands.append(command)
    write_json_atomic({"runs": list(known.values()), "commands": commands},
                      root / GRID_FILE)  # fmt: skip


def recorded_only(specs: list[RunSpec], root: Path) -> dict[str, dict[str, Any]]:
    """The runs of `specs` that `root` records only as a line of its
    ``runs.jsonl`` (no ``result.json`` in their folder): that line, by run id."""
    rows = {_key(row): row for row in recorded_runs(root)}
    out = {}
    for spec in specs:
        row = rows.get(_key(spec.to_dict()))
        if row is not None and not (root / spec.run_id / RESULT_FILE).is_file():
            out[spec.run_id] = row
    return out


def _recheck(
    result: dict[str, Any], recorded: dict[str, dict[str, Any]]
) -> Recheck | None:
    """`result` (a finished run) against its recorded line, if it has one."""
    if result["status"] != "ok":
        return None
    run_id = RunSpec.from_dict(result["spec"]).run_id
    row = recorded.get(run_id)
    if row is None:
        return None
    summary = result["summary"]
    then = {k: row[k] for k in RECHECKED if row.get(k) is not None}
    now = {k: summary[k] for k in then if summary.get(k) is not None}
    return Recheck(run_id, then, now)


def run_grid(
    specs: list[RunSpec],
    root: str | Path,
    executor: LocalExecutor | RayExecutor | None = None,
    *,
    progress: bool = False,
    command: str | None = None,
    time_limit: float | None = None,
) -> GridResult:
    """Train every spec into ``root/<run_id>``; finished runs are skipped.

    Re-invoking a grid after it was killed redoes nothing that finished and resumes
    interrupted runs from their checkpoints. A run the folder records only as a
    line of its ``runs.jsonl`` is trained again and compared with that line
    (`GridResult.rechecked`, `Recheck`). A run that raises is reported in the
    result (and ``error.txt``) and does not stop the others. With a `time_limit`,
    no run starts once that many seconds have passed: runs under way finish, the
    rest are returned as not started, for the next call to train.

    Args:
        specs: The runs (see `suite_runs`); run ids must be unique.
        root: Results folder.
        executor: `LocalExecutor` (default) or `RayExecutor`.
        progress: Show a progress bar over runs (needs tqdm; none when stderr is
            not a terminal).
        command: The command line that made the grid, recorded in ``grid.json``
            so that `softeq report` can say how to regenerate it.
        time_limit: Seconds after which no run starts (None: no limit).

    Returns:
        A `GridResult`.

    Raises:
        ValueError: If two specs share a run folder, `time_limit` is not a
            positive number, or a line of ``root/runs.jsonl`` is not a run's row.
    """
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, "
                         f"got {time_limit!r}")  # fmt: skip
    deadline = None if time_limit is None else time.time() + time_limit
    root = Path(root)
    ids = [s.run_id for s in specs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"specs share run folders: {dup[:5]}")
    root.mkdir(parents=True, exist_ok=True)
    _record_grid(specs, root, command)
    grid = GridResult()
    todo = []
    for spec in specs:
        done = finished_result(spec, root)
        if done is None:
            todo.append(spec)
        else:
            grid.results.append({**done, "status": "skipped"})
    bar = None
    if progress:
        bar = progress_bar(
            total=len(specs), initial=len(grid.results), desc="runs", mininterval=0.5
        )
    recorded = recorded_only(todo, root) if todo else {}
    executor = executor or LocalExecutor()
    for result in executor.run(todo, root, deadline) if todo else ():
        grid.results.append(result)
        check = _recheck(result, recorded)
        if check is not None:
            grid.rechecked.append(check)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(failed=len(grid.failed))
    if bar is not None:
        bar.close()
    return grid
