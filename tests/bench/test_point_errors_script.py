"""The per-point error spread of kept runs (benchmarks/bench_point_errors.py)."""

import json
import sys

from softeq.bench import execute, suite_runs, write_report

from ._scripts import load_script

bench = load_script("bench_point_errors")
FIELDS = ("test_trimmed_mse", "test_median_se", "test_worst_share")


def test_it_measures_old_runs_as_a_fresh_run_records_them(
    tmp_path, monkeypatch, capsys
):
    specs = suite_runs("per-cossim", protocol="fast", seeds=1, epochs=2,
                       tasks=["cossim:so3"], methods=["mlp", "auto"])  # fmt: skip
    fresh = {}
    for spec in specs:
        result = execute(spec, tmp_path)
        assert result["status"] == "ok", result
        fresh[spec.method] = {k: result["summary"][k] for k in FIELDS}
        # as a run from before the fields were measured
        path = tmp_path / spec.run_id / "result.json"
        old = json.loads(path.read_text())
        for k in FIELDS:
            del old["summary"][k]
        path.write_text(json.dumps(old))
    gone = tmp_path / "cossim-so3" / "mlp" / "s1"  # a folder without its model
    gone.mkdir()
    old = json.loads((tmp_path / specs[0].run_id / "result.json").read_text())
    old["spec"]["seed"] = 1
    (gone / "result.json").write_text(json.dumps(old))
    assert "worst 1 %" not in write_report(tmp_path).read_text()  # none measured
    monkeypatch.setattr(sys, "argv", ["bench_point_errors.py", "--runs",
                                      str(tmp_path), "--write"])  # fmt: skip
    bench.main()
    out = capsys.readouterr().out
    assert out.count("| yes |") == 2
    assert "1 runs without their model skipped; 0 whose recomputed" in out
    for spec in specs:
        summary = json.loads((tmp_path / spec.run_id / "result.json").read_text())
        written = {k: summary["summary"][k] for k in FIELDS}
        assert written == fresh[spec.method]  # the same numbers, to the bit
    # the report shows them; the MLP's cell waits for its seed without a model
    table = write_report(tmp_path).read_text().split("worst 1 % of test points")[1]
    assert "| MLP | – |" in table and "| softeq.fit (auto" in table
