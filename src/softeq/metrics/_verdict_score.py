"""How well symmetry-report verdicts match the truth: one run, then many pooled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: The labels a truth can take, in ranking order (least broken first).
TRUTH_ORDER = {"exact": 0, "approximate": 1, "broken": 2}


def ranked_entries(
    truth: Mapping[str, str],
    verdicts: Mapping[str, str],
    breaking: Mapping[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """One entry per group with a truth and a verdict, ranked as the symmetry
    report ranks groups (by their breaking, least first; rank 1 is the most
    symmetric). Without a breaking for every group, ranks are None.

    Example:
        >>> e = ranked_entries({"O3": "broken", "O2z": "exact"},
        ...                    {"O3": "broken", "O2z": "exact"},
        ...                    {"O3": 0.8, "O2z": 0.0})
        >>> [(g["name"], g["rank"]) for g in e]
        [('O3', 2), ('O2z', 1)]
    """
    names = [g for g in truth if g in verdicts]
    breaking = breaking or {}
    order = None
    if all(breaking.get(g) is not None for g in names):
        order = sorted(names, key=lambda g: breaking[g])  # type: ignore[arg-type, return-value]
    return [{"name": g, "truth": truth[g], "verdict": verdicts[g],
             "breaking": breaking.get(g),
             "rank": order.index(g) + 1 if order else None}
            for g in names]  # fmt: skip


def score_verdicts(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One run's verdicts against the truth.

    Groups whose truth is not exact, approximate or broken are not judged.
    Returns the counts ``judged``, ``right`` (verdict equals truth),
    ``undetermined``, ``wrong_exact`` (called exact, truth otherwise: the error
    a scientist would publish) and ``wrong_broken``, and ``ranking_right``: True
    when every exact group ranks above every approximate one and every
    approximate one above every broken one, None when an entry has no rank.

    Example:
        >>> s = score_verdicts([{"truth": "exact", "verdict": "exact", "rank": 1},
        ...                     {"truth": "broken", "verdict": "undetermined",
        ...                      "rank": 2}])
        >>> s["right"], s["undetermined"], s["ranking_right"]
        (1, 1, True)
    """
    judged = [g for g in entries if g["truth"] in TRUTH_ORDER]
    ranking = None
    if all(g.get("rank") is not None for g in judged):
        ranking = all(
            a["rank"] < b["rank"]
            for a in judged
            for b in judged
            if TRUTH_ORDER[a["truth"]] < TRUTH_ORDER[b["truth"]]
        )
    return {
        "judged": len(judged),
        "right": sum(g["verdict"] == g["truth"] for g in judged),
        "undetermined": sum(g["verdict"] == "undetermined" for g in judged),
        "wrong_exact": sum(g["verdict"] == "exact" != g["truth"] for g in judged),
        "wrong_broken": sum(g["verdict"] == "broken" != g["truth"] for g in judged),
        "ranking_right": ranking,
    }


def pooled_score_cells(scores: list[Mapping[str, Any]]) -> list[str]:
    """Table cells for runs' scores pooled: runs, decided (share of judged
    verdicts that are not undetermined), right (of decided), wrong exact, wrong
    broken, ranking right (share of the runs with ranks; how many, when some
    have none). A share with nothing to count is "–"."""

    def pct(num: int, den: int) -> str:
        return f"{num / den:.0%}" if den else "–"

    judged = sum(s["judged"] for s in scores)
    decided = judged - sum(s["undetermined"] for s in scores)
    known = [s for s in scores if s["ranking_right"] is not None]
    ranking = pct(sum(s["ranking_right"] for s in known), len(known))
    if known and len(known) < len(scores):
        ranking += f" (of {len(known)})"
    return [
        str(len(scores)),
        pct(decided, judged),
        pct(sum(s["right"] for s in scores), decided),
        str(sum(s["wrong_exact"] for s in scores)),
        str(sum(s["wrong_broken"] for s in scores)),
        ranking,
    ]
