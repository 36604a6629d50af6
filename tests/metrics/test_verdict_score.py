"""Scoring symmetry-report verdicts against the truth (softeq.metrics)."""

import itertools
import random

from softeq.metrics import pooled_score_cells, ranked_entries, score_verdicts

LABELS = ("exact", "approximate", "broken")
VERDICTS = (*LABELS, "undetermined")


def test_ranks_follow_the_breakings_and_are_none_without_them():
    truth = {"O3": "broken", "O2x": "approximate", "O2z": "exact"}
    verdicts = {"O3": "broken", "O2x": "approximate", "O2z": "exact", "O2y": "exact"}
    entries = ranked_entries(truth, verdicts, {"O3": 0.9, "O2x": 0.1, "O2z": 0.0})
    # only groups with both a truth and a verdict; rank 1 breaks least
    assert [(e["name"], e["rank"]) for e in entries] == [
        ("O3", 3), ("O2x", 2), ("O2z", 1)]  # fmt: skip
    assert score_verdicts(entries)["ranking_right"] is True
    missing = ranked_entries(truth, verdicts, {"O3": 0.9, "O2x": None, "O2z": 0.0})
    assert all(e["rank"] is None for e in missing)
    assert score_verdicts(missing)["ranking_right"] is None
    assert ranked_entries(truth, {}, None) == []


def test_counts_add_up_for_random_reports():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 5)
        entries = [{"truth": rng.choice((*LABELS, "unknown")),
                    "verdict": rng.choice(VERDICTS), "rank": k + 1}
                   for k in range(n)]  # fmt: skip
        s = score_verdicts(entries)
        judged = [e for e in entries if e["truth"] in LABELS]
        assert s["judged"] == len(judged)
        # every judged verdict is right, undetermined or wrong in one way
        wrong = sum(e["verdict"] not in (e["truth"], "undetermined") for e in judged)
        assert s["right"] + s["undetermined"] + wrong == s["judged"]
        assert s["wrong_exact"] + s["wrong_broken"] <= wrong
        # the ranking is right iff sorting by rank sorts the truths
        ordered = [e["truth"] for e in sorted(judged, key=lambda e: e["rank"])]
        by_truth = sorted(ordered, key=LABELS.index)
        assert s["ranking_right"] == (ordered == by_truth)


def test_ties_in_truth_never_break_the_ranking():
    for perm in itertools.permutations(range(3)):
        entries = [{"truth": "exact", "verdict": "exact", "rank": r + 1} for r in perm]
        assert score_verdicts(entries)["ranking_right"] is True


def test_pooled_cells():
    right = score_verdicts([{"truth": "exact", "verdict": "exact", "rank": 1},
                            {"truth": "broken", "verdict": "undetermined",
                             "rank": 2}])  # fmt: skip
    wrong = score_verdicts([{"truth": "broken", "verdict": "exact", "rank": None}])
    # runs, decided, right (of decided), wrong exact, wrong broken, ranking right
    assert pooled_score_cells([right, wrong]) == ["2", "67%", "50%", "1", "0",
                                                  "100% (of 1)"]  # fmt: skip
    assert pooled_score_cells([wrong])[-1] == "–"
    assert pooled_score_cells([]) == ["0", "–", "–", "0", "0", "–"]
