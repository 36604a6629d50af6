"""Changes of code under an unchanged config: runs trained before them are
trained again, never kept or resumed."""

from __future__ import annotations

import json

import pytest

from softeq.bench import _revisions, execute, planned_action, stale_reason, suite_runs
from softeq.bench._revisions import Revision, missing_revisions, revisions_for

LATER = Revision("later-evidence-change", "2099-01-01", "a later change",
                 lambda config: config.get("tuner") == "evidence")  # fmt: skip


def test_a_revision_applies_by_config_and_a_record_names_the_ones_it_trained_under():
    per_evidence, per = {"tuner": "evidence"}, {"tuner": "per"}
    both = (*_revisions.REVISIONS, LATER)
    assert revisions_for([per], both) == []
    names = revisions_for([per, per_evidence], both)  # a fit: any stage's config
    assert names == [r.name for r in both] and names[-1] == LATER.name
    assert missing_revisions({"revisions": names}, [per_evidence], both) == []
    assert missing_revisions({"revisions": names[:-1]}, [per_evidence], both) == [LATER]
    assert missing_revisions({}, [per], both) == []  # none applies
    assert missing_revisions({}, [per_evidence], both) == list(both)  # no record
    assert LATER.reason() == "trained before 2099-01-01's change: a later change"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two finished two-epoch runs of cossim:so3 in one folder: PER with the
    evidence tuner (the shipped revision applies) and the MLP (none applies)."""
    root = tmp_path_factory.mktemp("revisions")
    methods = ["mlp", "per-evidence"]
    specs = suite_runs("per-cossim", protocol="fast", seeds=1, epochs=2,
                       tasks=["cossim:so3"], methods=methods)  # fmt: skip
    records = {s.method: execute(s, root) for s in specs}
    assert all(r["status"] == "ok" for r in records.values()), records
    return root, {s.method: s for s in specs}, records


def test_runs_record_the_revisions_that_applied(trained):
    root, specs, records = trained
    assert records["mlp"]["revisions"] == []
    assert records["per-evidence"]["revisions"] == [
        "evidence-tuner-starts-at-adjust-at"
    ]
    assert all(planned_action(s, root) == "keep" for s in specs.values())


def test_a_new_revision_retrains_only_the_runs_it_applies_to(trained, monkeypatch):
    root, specs, _ = trained
    monkeypatch.setattr(_revisions, "REVISIONS", (*_revisions.REVISIONS, LATER))
    assert planned_action(specs["mlp"], root) == "keep"
    assert planned_action(specs["per-evidence"], root) == "train"
    assert stale_reason(specs["per-evidence"], root) == LATER.reason()


def test_a_record_from_before_the_revisions_is_trained_again(trained, tmp_path):
    root, specs, _ = trained
    for method, action in (("mlp", "keep"), ("per-evidence", "train")):
        spec = specs[method]
        folder = tmp_path / spec.run_id
        folder.mkdir(parents=True)
        record = json.loads((root / spec.run_id / "result.json").read_text())
        del record["revisions"]
        (folder / "result.json").write_text(json.dumps(record))
        assert planned_action(spec, tmp_path) == action


def test_a_checkpoint_of_older_code_is_not_resumed(trained, monkeypatch, tmp_path):
    """A killed run (a checkpoint, no result) resumes only when its training
    started under every revision that applies to it today."""
    root, specs, _ = trained
    for method in ("mlp", "per-evidence"):
        spec = specs[method]
        folder = tmp_path / spec.run_id
        folder.mkdir(parents=True)
        for name in ("checkpoint.pt", "config.toml", "revisions.json"):
            (folder / name).write_bytes((root / spec.run_id / name).read_bytes())
    assert all(planned_action(s, tmp_path) == "resume" for s in specs.values())
    with monkeypatch.context() as m:
        m.setattr(_revisions, "REVISIONS", (*_revisions.REVISIONS, LATER))
        assert planned_action(specs["mlp"], tmp_path) == "resume"
        assert planned_action(specs["per-evidence"], tmp_path) == "train"
    for spec in specs.values():  # started before the revisions were recorded
        (tmp_path / spec.run_id / "revisions.json").unlink()
    assert planned_action(specs["mlp"], tmp_path) == "resume"
    assert planned_action(specs["per-evidence"], tmp_path) == "train"
    again = execute(specs["per-evidence"], tmp_path)
    assert again["status"] == "ok" and not again["resumed"]
    assert again["revisions"] == ["evidence-tuner-starts-at-adjust-at"]


def test_training_afresh_drops_the_old_checkpoint_before_recording_revisions(
    trained, tmp_path, monkeypatch
):
    """Killed between recording today's revisions and its first checkpoint, a
    run trained afresh must not leave the older code's checkpoint to resume."""
    from softeq.train import Trainer

    root, specs, _ = trained
    spec = specs["per-evidence"]
    folder = tmp_path / spec.run_id
    folder.mkdir(parents=True)
    for name in ("checkpoint.pt", "config.toml"):  # older code: no revisions.json
        (folder / name).write_bytes((root / spec.run_id / name).read_bytes())

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", killed)  # killed as training starts
    with pytest.raises(KeyboardInterrupt):
        execute(spec, tmp_path)
    assert (folder / "revisions.json").is_file()
    assert not (folder / "checkpoint.pt").is_file()
    assert planned_action(spec, tmp_path) == "train"
