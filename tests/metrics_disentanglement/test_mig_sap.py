"""MIG and SAP: disentanglement_lib's end-to-end cases and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn

from circuitvae.metrics._discretize import discretize, histogram_discretize
from circuitvae.metrics.mig import mig
from circuitvae.metrics.sap import sap
from circuitvae.protocol import CircuitVAEError

# A balanced 2-factor design: every combination of two binary factors appears equally often,
# so the factors are exactly independent and I(f0; f1) = 0.
BALANCED = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5)


def test_histogram_discretizer_by_hand():
    x = np.array([[0.0], [0.5], [1.0], [2.0]])
    # edges of 2 bins over [0, 2] are [0, 1, 2]; digitize against [0, 1]
    np.testing.assert_array_equal(histogram_discretize(x, 2)[:, 0], [1, 1, 2, 2])
    np.testing.assert_array_equal(discretize(x, "identity"), x)
    with pytest.raises(CircuitVAEError, match="unknown discretizer"):
        discretize(x, "quantile")
    for bad in (0, 2.7, "20", True):
        with pytest.raises(CircuitVAEError, match="n_bins must be an integer >= 1"):
            histogram_discretize(x, bad)


def test_mig_exact_on_independent_binary_factors():
    result = mig(BALANCED.astype(float), BALANCED, discretizer="identity")
    np.testing.assert_allclose(result.entropy, [np.log(2)] * 2)
    np.testing.assert_allclose(result.mutual_info, np.diag([np.log(2)] * 2), atol=1e-12)
    np.testing.assert_allclose(result.value, 1.0)
    assert result.sklearn_version == sklearn.__version__


def test_mig_identity_zeros_duplicate(identity_sample):
    x, factors = identity_sample
    assert 0.9 <= mig(x, factors, discretizer="identity").value <= 1.0
    assert 0.0 <= mig(np.zeros_like(x), factors, discretizer="identity").value <= 0.2
    dup = mig(np.hstack([x, x]), factors, discretizer="identity")
    assert 0.0 <= dup.value <= 0.1
    assert dup.mutual_info.shape == (20, 10)


def test_mig_histogram_default_matches_manual_binning(identity_sample):
    x, factors = identity_sample
    codes = x + np.random.default_rng(0).normal(scale=0.1, size=x.shape)
    a = mig(codes, factors)  # histogram, 20 bins
    b = mig(histogram_discretize(codes, 20), factors, discretizer="identity")
    assert a.value == b.value
    assert a.n_bins == 20 and a.discretizer == "histogram"


def test_mig_errors(identity_sample):
    x, factors = identity_sample
    with pytest.raises(CircuitVAEError, match="at least 2 code dimensions"):
        mig(x[:, :1], factors)
    with pytest.raises(CircuitVAEError, match="single value"):
        mig(x, np.zeros_like(factors))


def test_sap_continuous_identity_zeros_duplicate(identity_sample):
    x, factors = identity_sample
    assert 0.9 <= sap(x, factors, continuous_factors=True).value <= 1.0
    assert 0.0 <= sap(np.zeros_like(x), factors, continuous_factors=True).value <= 0.2
    assert 0.0 <= sap(np.hstack([x, x]), factors, continuous_factors=True).value <= 0.2


def test_sap_continuous_exact_r2():
    # z0 = 2 f0 + 1 (R^2 = 1 with f0, 0 with f1); z1 = f1
    codes = np.stack([2.0 * BALANCED[:, 0] + 1.0, BALANCED[:, 1]], axis=1)
    result = sap(codes, BALANCED, continuous_factors=True)
    np.testing.assert_allclose(result.score_matrix, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(result.value, 1.0)


def test_sap_discrete_uses_held_out_svm_accuracy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(400, 2))
    codes = np.stack([y[:, 0] * 4.0 - 2.0, rng.normal(size=400)], axis=1)
    result = sap(codes[:300], y[:300], codes_test=codes[300:], factors_test=y[300:])
    assert result.score_matrix[0, 0] == 1.0  # a separable code predicts its factor exactly
    assert result.score_matrix[1, 0] < 0.7  # noise does not
    assert result.per_factor[0] > 0.3
    # seeded split of the same rows gives a reproducible result
    assert sap(codes, y, seed=3).value == sap(codes, y, seed=3).value


def test_sap_errors(identity_sample):
    x, factors = identity_sample
    with pytest.raises(CircuitVAEError, match="at least 2 code dimensions"):
        sap(x[:, :1], factors)
    with pytest.raises(CircuitVAEError, match="drop the test arrays"):
        sap(x, factors, continuous_factors=True, codes_test=x, factors_test=factors)
    with pytest.raises(CircuitVAEError, match="integer classes"):
        sap(x, factors * 0.3)
