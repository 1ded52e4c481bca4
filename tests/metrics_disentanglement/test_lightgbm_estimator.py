"""estimator="lightgbm": the same importance-based DCI/FGD, from LightGBM's gain."""

from __future__ import annotations

import numpy as np
import pytest

from circuitvae.metrics._importance import gbt_importance, lightgbm_estimator
from circuitvae.metrics.dci import dci
from circuitvae.metrics.fgd import fgd_from_features
from circuitvae.protocol import CircuitVAEError

lightgbm = pytest.importorskip("lightgbm")


def _mixed(n: int = 1500, seed: int = 0):
    """Codes where factor k is read from codes 2k and 2k+1 (plus noise codes)."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, size=(n, 3))
    codes = np.concatenate([
        factors[:, [0]] + 0.3 * rng.normal(size=(n, 1)),
        factors[:, [0]] * 0.5 + 0.3 * rng.normal(size=(n, 1)),
        factors[:, [1]] + 0.3 * rng.normal(size=(n, 1)),
        factors[:, [1]] + factors[:, [2]] + 0.3 * rng.normal(size=(n, 1)),
        factors[:, [2]] + 0.3 * rng.normal(size=(n, 1)),
        rng.normal(size=(n, 1)),
    ], axis=1)
    return codes, factors


def test_setup_mirrors_sklearn_defaults():
    clf = lightgbm_estimator("categorical", seed=3, n_estimators=40)
    params = clf.get_params()
    assert isinstance(clf, lightgbm.LGBMClassifier)
    assert (params["n_estimators"], params["learning_rate"], params["max_depth"],
            params["num_leaves"], params["min_child_samples"]) == (40, 0.1, 3, 8, 1)
    assert params["importance_type"] == "gain" and params["random_state"] == 3
    assert isinstance(lightgbm_estimator("numeric", seed=0), lightgbm.LGBMRegressor)
    with pytest.raises(CircuitVAEError, match="unknown feature kind"):
        lightgbm_estimator("ordinal", seed=0)  # type: ignore[arg-type]


def test_importances_are_normalised_per_target_like_sklearn():
    codes, factors = _mixed()
    fit = gbt_importance(codes, factors, ["categorical"] * 3, estimator="lightgbm",
                         n_estimators=30)
    np.testing.assert_allclose(fit.importance.sum(0), 1.0, rtol=1e-12)
    ref = gbt_importance(codes, factors, ["categorical"] * 3, n_estimators=30)
    np.testing.assert_allclose(ref.importance.sum(0), 1.0, rtol=1e-9)
    # the noise code carries (almost) nothing in either
    assert fit.importance[5].max() < 0.05 and ref.importance[5].max() < 0.05


def test_dci_close_to_sklearn_and_ordered_the_same():
    codes, factors = _mixed()
    results = {}
    for name in ("sklearn", "lightgbm"):
        good = dci(codes, factors, n_estimators=50, estimator=name)
        mixed_codes = codes @ np.random.default_rng(1).normal(size=(6, 6))  # rotated: entangled
        bad = dci(mixed_codes, factors, n_estimators=50, estimator=name)
        results[name] = (good.disentanglement, bad.disentanglement, good.informativeness_test)
        assert good.disentanglement > bad.disentanglement
    for a, b in zip(results["sklearn"], results["lightgbm"], strict=True):
        assert abs(a - b) < 0.1  # the real-data figures: benchmark 8


def test_fgd_with_lightgbm_numeric_and_categorical_targets():
    codes, factors = _mixed()
    targets = np.column_stack([factors, codes[:, 4] * 2.0])  # one numeric feature
    kinds = ["categorical"] * 3 + ["numeric"]
    groups = {"a": [0, 3], "b": [1], "c": [2]}
    res = {name: fgd_from_features(codes, targets, kinds, groups, n_estimators=30,
                                   estimator=name).value for name in ("sklearn", "lightgbm")}
    assert 0 < res["lightgbm"] <= 1
    assert abs(res["lightgbm"] - res["sklearn"]) < 0.05


def test_bad_estimator_names_the_choices():
    codes, factors = _mixed(200)
    with pytest.raises(CircuitVAEError, match="estimator must be 'sklearn', 'lightgbm'"):
        dci(codes, factors, estimator="xgboost")
