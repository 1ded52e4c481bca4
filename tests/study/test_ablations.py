"""The beta and latent-size ablations: the transition estimate, the task, the report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuitvae import stats
from circuitvae.protocol import CircuitVAEError
from circuitvae.study import ResultStore, RunSpec, run_study, write_report
from circuitvae.zoo.studies import BETA_ABLATION, LATENT_ABLATION
from circuitvae.zoo.studies.ablations import run_ablation


def test_crossing_point_interpolates_in_log_x():
    x, y = [0.5, 1, 2, 4, 8], [10, 10, 10, 0, 0]
    assert stats.crossing_point(x, y, 5.0) == pytest.approx(math.sqrt(8))  # log-midpoint of 2, 4
    assert stats.crossing_point(x, y, 5.0, log_x=False) == pytest.approx(3.0)
    assert math.isnan(stats.crossing_point(x, [10] * 5, 5.0))
    assert stats.crossing_point(x, [1] * 5, 5.0) == 0.5
    with pytest.raises(CircuitVAEError, match="x must increase"):
        stats.crossing_point([2, 1], [1, 0], 0.5)


def test_transition_of_a_known_curve_and_its_interval():
    # active dims 8 at beta <= 2, 2 at beta 8: half of 8 (= 4) is crossed where the log-linear
    # segment from (2, 8) to (8, 2) reaches 4: log beta = log 2 + (4/6) log 4
    exact = {0.5: [8, 8, 8], 1: [8, 8, 8], 2: [8, 8, 8], 8: [2, 2, 2]}
    ci = stats.transition_ci(exact)
    assert ci.estimate == pytest.approx(2 * 4 ** (4 / 6))
    assert ci.low == pytest.approx(ci.estimate) and ci.high == pytest.approx(ci.estimate)
    noisy = {0.5: [9, 8, 7], 1: [8, 9, 7], 2: [7, 6, 8], 4: [3, 5, 1], 8: [0, 1, 0]}
    ci = stats.transition_ci(noisy, seed=1)
    assert ci.low < ci.estimate < ci.high and 2 < ci.estimate < 4 and ci.n == 15
    assert math.isnan(stats.transition_ci({1: [5, 5], 2: [5, 5]}).estimate)


def test_an_ablation_run_records_its_grid_value():
    settings = BETA_ABLATION.settings("quick", epochs=1, n_train=200, n_test=60, analysis_n=30,
                                      score_n_train=50, score_n_eval=20, fgd_n_estimators=3,
                                      dci_n_estimators=3)
    out = run_ablation(RunSpec("beta_ablation", "beta2", "german_credit", 42, settings))
    assert out["metrics"]["beta"] == 2.0 and out["config"]["model"]["beta"] == 2.0
    assert out["ablation"] == {"label": "beta2", "architecture": "beta_vae", "beta": 2.0}
    assert np.isfinite(out["metrics"]["impute_rmse"])
    assert np.isfinite(out["metrics"]["anomaly_roc_auc"])


def test_tiny_latent_ablation_report(tmp_path):
    grid = LATENT_ABLATION.grid("quick", seeds=(42,), epochs=1, n_train=300, n_test=60,
                                analysis_n=30, score_n_train=50, score_n_eval=20,
                                fgd_n_estimators=3, dci_n_estimators=3)
    s = run_study(LATENT_ABLATION, grid, tmp_path, progress=False)
    assert (s.ok, s.failed) == (3, 0)
    dims = sorted(r["metrics"]["latent_dim"] for r in ResultStore(tmp_path).read_rows().values())
    assert dims == [5.0, 10.0, 20.0]
    md = write_report(tmp_path).read_text()
    assert "## Every metric against the latent size" in md and "| adult | 20 | 1 |" in md
    assert "judges no finding" in md and "Findings: paper vs ours" not in md
    assert "Sensitivity to our choices" not in md
    assert (tmp_path / "figures" / "metrics_vs_latent_dim.png").stat().st_size > 1000
