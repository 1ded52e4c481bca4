"""analyze() works on one context: the rows are drawn, checked and encoded once."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import circuitvae as cv
from circuitvae import protocol
from circuitvae.metrics import COLUMNS, INTERVENTIONAL, METRIC_COLUMNS, STEP_TABLE, STEPS


def _record(monkeypatch, module, name):
    """Record the arguments of every call of ``module.name`` from the circuitvae modules."""
    calls = []
    original = getattr(module, name)

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    for mod in list(sys.modules.values()):
        if (getattr(mod, "__name__", "").startswith("circuitvae")
                and getattr(mod, name, None) is original):
            monkeypatch.setattr(mod, name, recording)
    return calls


@pytest.mark.parametrize("metrics", ["interventional", "all"])
def test_tabular_rows_are_resolved_and_encoded_once(circuit_models, tabular, monkeypatch,
                                                    metrics):
    model = circuit_models[0]
    resolved = _record(monkeypatch, protocol, "resolve_inputs")
    passes = _record(monkeypatch, sys.modules["circuitvae.hooks"], "run_unchecked")
    df = cv.analyze(model, tabular, n=40, seed=2, k=5, fgd_n_estimators=5, metrics=metrics)
    assert not df.iloc[0].skipped or "correlation" in df.iloc[0].skipped
    assert [args[0] for args, _ in resolved] == [tabular]  # the dataset, once
    encodes = [args[1] for args, kw in passes if kw.get("method") == "encode"]
    if metrics == "interventional":
        assert [len(x) for x in encodes] == [40]  # the rows, once
    else:  # the downstream AUC encodes its own train and test rows
        assert [len(x) for x in encodes] == [40, len(tabular.train), len(tabular.test)]


def test_factor_metrics_encode_their_own_samples(conv_vae, fake_images, monkeypatch):
    """The analysed rows are encoded once; DCI, MIG and SAP draw and encode their own
    n_score_train / n_score_eval ground-truth samples (in batches of 100, as dlib)."""
    passes = _record(monkeypatch, sys.modules["circuitvae.hooks"], "run_unchecked")
    df = cv.analyze(conv_vae, fake_images, n=30, k=3, n_score_train=150, n_score_eval=30,
                    metrics=["dci/mig/sap", "ces"])
    row = df.iloc[0]
    assert np.isfinite(row.dci_disentanglement) and np.isfinite(row.ces_calibrated)
    encodes = [args[1] for args, kw in passes if kw.get("method") == "encode"]
    assert [len(x) for x in encodes] == [30, 100, 50, 30]


def test_the_column_table_is_the_one_source_of_names():
    assert METRIC_COLUMNS == tuple(c for c, _ in COLUMNS)
    assert len(set(METRIC_COLUMNS)) == len(METRIC_COLUMNS)
    assert set(STEPS) == {step.name for step in STEP_TABLE}
    assert sorted(c for cols in STEPS.values() for c in cols) == sorted(METRIC_COLUMNS)
    assert STEPS["specificity"] == ("specificity", "modularity_latent", "modularity_ridgeway")
    assert set(INTERVENTIONAL) == {
        *STEPS["ces"], *STEPS["specificity"], *STEPS["modularity"],
        *STEPS["modularity_random"], *STEPS["modularity_correlation"], *STEPS["mse"],
        *STEPS["vq"], *STEPS["scales"]}


def test_a_step_returns_only_its_own_columns(circuit_models, tabular):
    from circuitvae.metrics.analyze import select_metrics
    from circuitvae.metrics.context import AnalysisContext, AnalysisOptions

    wanted = select_metrics("all")
    ctx = AnalysisContext(circuit_models[0], tabular, AnalysisOptions(n=40, k=3,
                                                                      fgd_n_estimators=5),
                          wanted, latent_profiles=True)
    ran = []
    for step in STEP_TABLE:
        if not step.applies(ctx) or step.name == "modularity_correlation":  # fake data: none
            continue
        assert set(step.run(ctx)) <= set(step.columns), step.name
        ran.append(step.name)
    assert ran == ["ces", "specificity", "scales", "modularity", "modularity_random", "fgd",
                   "mse", "auc", "imputation", "corruption"]
    assert ctx.computed("calibrated") and ctx.computed("fixed")
