"""One end-to-end study with the real task: zoo models, planted data, analyze()."""

from circuitvae.study import ResultStore, run_study, write_report
from circuitvae.zoo.studies import TABULAR


def test_real_task_tiny_study(tmp_path):
    grid = TABULAR.grid("quick", architectures=("vae", "beta_vae"), datasets=("planted",),
                        seeds=(42, 123), epochs=1, n_train=200, n_test=60, analysis_n=40,
                        score_n_train=50, score_n_eval=20, fgd_n_estimators=3,
                        data_options={"n_factors": 2, "factor_bins": 2})
    s = run_study(TABULAR, grid, tmp_path, progress=False)
    assert (s.ok, s.failed, s.skipped) == (4, 0, 0)
    rows = ResultStore(tmp_path).read_rows()
    for row in rows.values():
        m = row["metrics"]
        assert m["ces_calibrated"] > 0 and m["mse"] > 0 and 0 <= m["auc"] <= 1
        assert row["config"]["epochs_run"] == 1
        assert row["provenance"]["n_train"] == 200 and row["provenance"]["n_test"] == 60
        assert row["settings"]["epochs"] == 1
        adequacy = row["adequacy"]
        assert adequacy["best_epoch"] == 1 and adequacy["epochs_run"] == 1
        assert m["active_dims"] == adequacy["active_dims"] and len(adequacy["kl_per_dim"]) == 10
    md = write_report(tmp_path).read_text()
    assert "## Findings: paper vs ours" in md and "ok 4" in md
    figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert len(figures) == 4 and all((tmp_path / "figures" / f).stat().st_size > 1000
                                     for f in figures)
