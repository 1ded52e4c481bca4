"""analyze(): one tidy row, equal to the standalone metrics, NaN where a metric does not apply."""

import warnings

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.metrics import INTERVENTIONAL, METRIC_COLUMNS


def test_tabular_row_matches_standalone_metrics(circuit_models, tabular):
    model = circuit_models[0]
    df = cv.analyze(model, tabular, n=40, seed=2, k=5, fgd_n_estimators=5)
    assert df.shape[0] == 1
    assert list(df.columns[: len(METRIC_COLUMNS)]) == list(METRIC_COLUMNS)
    row = df.iloc[0]
    kw = {"n": 40, "seed": 2, "k": 5}
    assert row.ces_calibrated == pytest.approx(cv.ces(model, tabular, **kw).value, rel=1e-9)
    assert row.ces_fixed == pytest.approx(
        cv.ces(model, tabular, calibrated=False, **kw).value, rel=1e-9)
    assert row.specificity == pytest.approx(cv.specificity(model, tabular, **kw).value)
    assert row.modularity == pytest.approx(cv.modularity(model, tabular, n=40, seed=2).value)
    assert row.modularity_random == pytest.approx(
        cv.modularity(model, tabular, "random", n=40, seed=2).value)
    assert row.modularity_latent == pytest.approx(
        cv.modularity(model, tabular, level="latent", **kw).value)
    assert row.modularity_ridgeway == pytest.approx(1.0)
    assert row.mse == pytest.approx(cv.reconstruction(model, tabular, n=40, seed=2).value)
    assert np.isfinite(row.auc) and np.isfinite(row.fgd)
    assert (row.n, row.seed, row.k, row.scale) == (40, 2, 5, "means")
    # not applicable here: factor scores, VQ swaps, categorical MSE
    for col in ("dci_disentanglement", "mig", "factor_vae_score", "vq_ces_swap",
                "mse_categorical"):
        assert np.isnan(row[col])
    assert "correlation" in row.skipped  # the fake dataset offers no correlation grouping


def test_image_row_has_factor_scores(conv_vae, fake_images):
    df = cv.analyze(conv_vae, fake_images, n=30, k=3, n_score_train=60, n_score_eval=30)
    row = df.iloc[0]
    for col in ("ces_calibrated", "specificity", "modularity", "dci_disentanglement", "mig",
                "sap", "factor_vae_score", "beta_vae_score", "mse", "auc"):
        assert np.isfinite(row[col]), (col, row.skipped)
    assert np.isnan(row.fgd) and np.isnan(row.modularity_random)


def test_vq_row_reports_code_swaps_beside_the_continuous_sweep(vq):
    data = torch.randn(20, 6, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the continuous sweep on z_e is deliberate here
        df = cv.analyze(vq, data, n=20, k=3)
    row = df.iloc[0]
    assert row.discrete and np.isfinite(row.vq_ces_swap) and np.isfinite(row.ces_calibrated)
    assert row.vq_ces_swap == pytest.approx(cv.code_swap(vq, data, n=20).ces)


def test_plain_tensor_and_strict_mode(mlp):
    x = torch.randn(15, 6, generator=torch.Generator().manual_seed(0))
    df = cv.analyze(mlp, x, n=15, k=3)
    assert np.isfinite(df.iloc[0].ces_calibrated) and np.isnan(df.iloc[0].auc)
    assert "auc" in df.iloc[0].skipped
    with pytest.raises(cv.CircuitVAEError):
        cv.analyze(mlp, x, n=15, k=3, strict=True)


def test_metric_selection_computes_the_same_values_and_only_those(circuit_models, tabular):
    model = circuit_models[0]
    kw = {"n": 40, "seed": 2, "k": 5, "fgd_n_estimators": 5}
    full = cv.analyze(model, tabular, **kw).iloc[0]
    part = cv.analyze(model, tabular, metrics="interventional", **kw).iloc[0]
    for col in INTERVENTIONAL:
        same = np.isnan(full[col]) and np.isnan(part[col]) or full[col] == part[col]
        assert same, (col, full[col], part[col])
    for col in ("fgd", "fgd_correlation", "auc", "dci_disentanglement"):
        assert np.isnan(part[col])
    assert "fgd" not in part.skipped and "auc" not in part.skipped
    assert full.metrics == "all" and part.metrics.startswith("ces_calibrated,ces_fixed,")
    one = cv.analyze(model, tabular, metrics=["specificity", "fgd"], **kw).iloc[0]
    assert one.specificity == full.specificity and one.fgd == full.fgd
    assert np.isnan(one.ces_calibrated) and np.isnan(one.modularity_ridgeway)
    assert one.metrics == "specificity,fgd"


def test_unknown_or_empty_metric_selection_is_an_error(mlp):
    x = torch.randn(15, 6, generator=torch.Generator().manual_seed(0))
    with pytest.raises(cv.CircuitVAEError, match="unknown metric 'cess'.*interventional"):
        cv.analyze(mlp, x, metrics=["cess"])
    with pytest.raises(cv.CircuitVAEError, match="metrics is empty"):
        cv.analyze(mlp, x, metrics=[])


def test_fast_preset_fits_lightgbm_trees_and_records_them(circuit_models, tabular,
                                                          conv_vae, fake_images):
    lightgbm = pytest.importorskip("lightgbm")
    model = circuit_models[0]
    kw = {"n": 40, "seed": 2, "k": 5, "fgd_n_estimators": 5}
    fast = cv.analyze(model, tabular, preset="fast", **kw).iloc[0]
    assert fast.estimator == "lightgbm" and fast.preset == "fast"
    assert fast.lightgbm_version == lightgbm.__version__
    ref = cv.analyze(model, tabular, **kw).iloc[0]
    assert ref.estimator == "sklearn" and ref.lightgbm_version == ""
    assert fast.fgd == pytest.approx(
        cv.fgd(model, tabular, n=40, seed=2, n_estimators=5, estimator="lightgbm").value)
    # the interventional metrics do not depend on the tree model
    for col in INTERVENTIONAL:
        if np.isfinite(ref[col]):
            assert fast[col] == ref[col], col
    # an explicit estimator wins over the preset's
    assert cv.analyze(model, tabular, preset="fast", estimator="sklearn",
                      **kw).iloc[0].fgd == pytest.approx(ref.fgd)
    img = cv.analyze(conv_vae, fake_images, n=30, k=3, n_score_train=60, n_score_eval=30,
                     metrics=["dci_disentanglement"], preset="fast").iloc[0]
    assert np.isfinite(img.dci_disentanglement), img.skipped


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"preset": "turbo"}, "preset must be one of 'default', 'fast'"),
    ({"estimator": "xgboost"}, "estimator must be one of 'sklearn', 'lightgbm'"),
    ({"estimator": 3}, "estimator must be one of"),
])
def test_bad_preset_or_estimator_is_named(mlp, kwargs, match):
    with pytest.raises(cv.CircuitVAEError, match=match):
        cv.analyze(mlp, torch.randn(15, 6), **kwargs)
