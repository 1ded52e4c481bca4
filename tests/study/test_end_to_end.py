"""One end-to-end study with the real run function: zoo models, planted data, analyze()."""

from circuitvae.study import GridSpec, ResultStore, run_study, write_report
from circuitvae.study.report import FIGURES


def test_real_task_tiny_study(tmp_path):
    grid = GridSpec("tabular", ("vae", "beta_vae"), ("planted",), (42, 123), "quick",
                    {"epochs": 1, "n_train": 200, "n_test": 60, "analysis_n": 40,
                     "score_n_train": 50, "score_n_eval": 20, "fgd_n_estimators": 3,
                     "data_options": {"n_factors": 2, "factor_bins": 2}})
    s = run_study(grid, tmp_path, progress=False)  # the default task
    assert (s.ok, s.failed, s.skipped) == (4, 0, 0)
    rows = ResultStore(tmp_path).read_rows()
    for row in rows.values():
        m = row["metrics"]
        assert m["ces_calibrated"] > 0 and m["mse"] > 0 and 0 <= m["auc"] <= 1
        assert row["config"]["epochs_run"] == 1
        assert row["provenance"]["n_train"] == 200 and row["provenance"]["n_test"] == 60
    md = write_report(tmp_path).read_text()
    assert "## Findings: paper vs ours" in md and "ok 4" in md
    for name in FIGURES:
        assert (tmp_path / "figures" / name).stat().st_size > 1000
