"""Changes of softeq's code that change the numbers of the runs they touch.

A grid keeps a stored run when its resolved config is today's
(`softeq.train.config_change`), but a change of code under an unchanged config
(a tuner that now starts later, a fixed bug in a layer) changes what the same
config trains. Each such change is a `Revision` here, with a rule saying which
runs it touches (`Revision.applies`, on a run's resolved `TrainConfig` dict).
A run records the names of the revisions that applied when it trained
(``"revisions"`` in its ``result.json``); a stored run that a revision applies
to and that does not name it was trained by the code before it, and the grid
trains it again (`softeq bench --dry-run` says why).

Add a revision when a change moves the numbers of runs whose config it leaves
alone; a change that changes a config (a preset's value, a new field) needs
none: the config check retrains those runs already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The key of a run record that lists its revisions.
RECORD_KEY = "revisions"


@dataclass(frozen=True)
class Revision:
    """A change of code that changes the numbers of the runs it `applies` to.

    Attributes:
        name: Its identifier, stored in the records of the runs trained after it.
        date: When it landed (ISO date), for the reason shown.
        change: What changed, in words.
        applies: Whether it touches a run, from the run's resolved config (for a
            ``softeq.fit`` run, any of its stages' configs).
    """

    name: str
    date: str
    change: str
    applies: Callable[[Mapping[str, Any]], bool]

    def reason(self) -> str:
        """Why a run trained before it does not count, in words."""
        return f"trained before {self.date}'s change: {self.change}"


#: Every revision, oldest first.
REVISIONS: tuple[Revision, ...] = (
    Revision(
        "evidence-tuner-starts-at-adjust-at",
        "2026-12-07",
        "the evidence tuner's first update is at adjust_at, not at epoch tuner_every",
        lambda config: config.get("tuner") == "evidence",
    ),
)


def revisions_for(
    configs: Iterable[Mapping[str, Any]],
    revisions: Iterable[Revision] | None = None,
) -> list[str]:
    """The names of the `revisions` (default `REVISIONS`) that apply to any of
    `configs` (what a run trained today records).

    Example:
        >>> revisions_for([{"model": "per", "tuner": "evidence"}])
        ['evidence-tuner-starts-at-adjust-at']
        >>> revisions_for([{"model": "per", "tuner": "per"}])
        []
    """
    configs = list(configs)
    revisions = REVISIONS if revisions is None else revisions
    return [r.name for r in revisions if any(r.applies(c) for c in configs)]


def missing_revisions(
    record: Mapping[str, Any],
    configs: Iterable[Mapping[str, Any]],
    revisions: Iterable[Revision] | None = None,
) -> list[Revision]:
    """The `revisions` (default `REVISIONS`) that apply to `configs` (today's
    resolved configs of a stored run) but that its `record` does not name: the
    run was trained by the code before them. A record with no ``"revisions"``
    key names none.

    Example:
        >>> config = {"model": "per", "tuner": "evidence"}
        >>> [r.name for r in missing_revisions({}, [config])]
        ['evidence-tuner-starts-at-adjust-at']
        >>> missing_revisions({"revisions": revisions_for([config])}, [config])
        []
    """
    recorded = set(record.get(RECORD_KEY) or ())
    configs = list(configs)
    revisions = REVISIONS if revisions is None else revisions
    return [
        r
        for r in revisions
        if r.name not in recorded and any(r.applies(c) for c in configs)
    ]
