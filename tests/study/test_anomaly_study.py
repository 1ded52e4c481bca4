"""The anomaly study: each finding reaches its verdicts; a tiny run and its report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circuitvae.study import run_study, write_report
from circuitvae.study.findings import (
    DIRECTION_ONLY,
    NOT_REPRODUCED,
    REPRODUCED,
    UNDERPOWERED,
    apply,
)
from circuitvae.zoo.studies import ANOMALY
from circuitvae.zoo.studies.anomaly import FINDINGS

RULES = {r.key: r for r in FINDINGS}
EMPTY = pd.DataFrame()


def rows(values: dict[tuple[str, str], dict[str, float]], seeds=range(6)) -> pd.DataFrame:
    out = []
    for (arch, ds), cols in values.items():
        for i, seed in enumerate(seeds):
            out.append({"run_id": f"{arch}__{ds}__{seed}", "architecture": arch, "dataset": ds,
                        "seed": seed, **{c: v + 0.002 * i for c, v in cols.items()}})
    return pd.DataFrame(out)


def verdict(key, frame):
    return apply(RULES[key], frame, EMPTY).verdict


def test_seed_auc_reaches_every_verdict():
    cell = ("bayes_attention_vae", "brats2020")
    assert verdict("seed_auc", rows({cell: {"roc_auc_normalized": 0.829,
                                            "pr_auc_normalized": 0.828}})) == REPRODUCED
    assert verdict("seed_auc", rows({cell: {"roc_auc_normalized": 0.95,
                                            "pr_auc_normalized": 0.95}})) == DIRECTION_ONLY
    assert verdict("seed_auc", rows({cell: {"roc_auc_normalized": 0.40,
                                            "pr_auc_normalized": 0.40}})) == NOT_REPRODUCED
    assert verdict("seed_auc", rows({cell: {"roc_auc_normalized": 0.83,
                                            "pr_auc_normalized": 0.83}}, seeds=range(3))) \
        == UNDERPOWERED
    stand_in = rows({("bayes_attention_vae", "mri_standin"): {"roc_auc_normalized": 0.83,
                                                              "pr_auc_normalized": 0.83}})
    assert verdict("seed_auc", stand_in) == "not computable"  # the stand-in is not BraTS


def test_uncertainty_and_attention_findings_reach_their_verdicts():
    better = rows({("bayes_attention_vae", "mri_standin"): {"roc_auc_normalized": 0.8,
                                                            "roc_auc_recon": 0.7},
                   ("bayes_vae", "mri_standin"): {"roc_auc_normalized": 0.7,
                                                  "roc_auc_recon": 0.7}})
    assert verdict("uncertainty_helps", better) == REPRODUCED
    assert verdict("attention_helps", better) == REPRODUCED
    worse = better.assign(roc_auc_normalized=better["roc_auc_normalized"].to_numpy()[::-1])
    assert verdict("uncertainty_helps", worse) == NOT_REPRODUCED
    assert verdict("attention_helps", worse) == NOT_REPRODUCED
    few = better[better["seed"] < 3]
    assert verdict("uncertainty_helps", few) == UNDERPOWERED
    assert verdict("attention_helps", few) == UNDERPOWERED


def test_tiny_anomaly_study_runs_and_reports(tmp_path):
    pytest.importorskip("nilearn")
    grid = ANOMALY.grid("quick", architectures=("bayes_attention_vae", "vae"),
                        datasets=("mri_standin", "breast_cancer", "brats2020"), seeds=(42,),
                        epochs=1, mc_passes=2, ces_passes=2, n_interpret=4,
                        image={"n_train": 32, "n_test": 16, "batch_size": 16},
                        model={"conv_channels": [4, 4, 8, 8], "fc_hidden": 16})
    s = run_study(ANOMALY, grid, tmp_path, progress=False)
    assert (s.ok, s.failed, s.skipped) == (4, 0, 2)  # BraTS files are absent here
    frame = pd.read_csv(write_report(tmp_path).parent / "results.csv")
    ok = frame[frame["status"] == "ok"].set_index("run_id")
    bayes = ok.loc["bayes_attention_vae__mri_standin__42"]
    assert 0 <= bayes["roc_auc_normalized"] <= 1 and np.isfinite(bayes["pixel_auroc_recon"])
    assert np.isnan(ok.loc["vae__mri_standin__42"].get("roc_auc_normalized", np.nan))
    md = (tmp_path / "report.md").read_text()
    assert "not comparable" in md and "## What carries the anomaly score" in md
    # per layer and per run: no head or latent index is averaged across seeds
    assert "| mri_standin | bayes_attention_vae | encoder.12 | 1 |" in md
    assert "| mri_standin | bayes_attention_vae | 42 | z" in md
    for name in ("roc_pr_curves.png", "score_maps.png", "what_carries_the_score.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000
