"""DCI: the closed-form cases of disentanglement_lib's dci_test.py and its end-to-end cases."""

from __future__ import annotations

import numpy as np
import pytest

from circuitvae.metrics.dci import (
    completeness_per_factor,
    dci,
    dci_from_importance,
    disentanglement_per_code,
)
from circuitvae.protocol import CircuitVAEError

LN2_LN10 = np.log(2) / np.log(10)
DIAG = np.diag(5.0 * np.ones(5))


@pytest.mark.parametrize(
    ("matrix", "expected_d", "expected_c"),
    [
        (DIAG, 1.0, 1.0),
        (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 1.0, 1.0),
        (np.zeros((10, 10)), 0.0, 0.0),
        (np.vstack([DIAG, DIAG]), 1.0, 1.0 - LN2_LN10),
        (DIAG[:2, :], 1.0, 1.0),
        (np.hstack([DIAG, DIAG]), 1.0 - LN2_LN10, 1.0),
    ],
    ids=["diagonal", "empty_codes", "zero", "redundant_codes", "missed_factors", "one_code_two"],
)
def test_closed_form_matrices(matrix, expected_d, expected_c):
    d_score, c_score = dci_from_importance(matrix)
    np.testing.assert_allclose(d_score, expected_d, atol=1e-7)
    np.testing.assert_allclose(c_score, expected_c, atol=1e-7)


def test_per_code_scores_by_hand():
    # code 0 splits evenly over 2 of 4 factors: 1 - log(2)/log(4) = 0.5; code 1 is pure.
    r = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    np.testing.assert_allclose(disentanglement_per_code(r), [0.5, 1.0], atol=1e-8)
    # weights 2/5 and 3/5
    np.testing.assert_allclose(dci_from_importance(r)[0], 0.4 * 0.5 + 0.6 * 1.0, atol=1e-8)
    # factor 3 has no importance: its completeness is 1 - H_2(uniform) = 0 but weight 0
    np.testing.assert_allclose(completeness_per_factor(r), [1.0, 1.0, 1.0, 0.0], atol=1e-8)


def test_importance_matrix_errors():
    with pytest.raises(CircuitVAEError, match="at least 2 codes and 2 factors"):
        dci_from_importance(np.ones((3, 1)))
    with pytest.raises(CircuitVAEError, match="non-negative"):
        dci_from_importance(-np.eye(3))


def test_identity_representation(identity_sample):
    x, factors = identity_sample
    result = dci(x, factors, n_estimators=5)
    assert 0.9 <= result.disentanglement <= 1.0
    assert 0.9 <= result.completeness <= 1.0
    assert result.value == result.disentanglement
    assert result.importance.shape == (10, 10)
    assert result.informativeness_test > 0.9


def test_permuted_codes_score_low(identity_sample, permute):
    x, factors = identity_sample
    result = dci(permute(x), factors, n_estimators=5)
    assert 0.0 <= result.disentanglement <= 0.2
    assert 0.0 <= result.completeness <= 0.2


def test_duplicated_latent_space(identity_sample):
    x, factors = identity_sample
    result = dci(np.hstack([x, x]), factors, n_estimators=10)
    assert 0.9 <= result.disentanglement <= 1.0
    target = 1.0 - LN2_LN10
    assert target - 0.1 <= result.completeness <= target + 0.1


def test_explicit_test_arrays_and_seed_determinism(identity_sample):
    x, factors = identity_sample
    a = dci(x[:300], factors[:300], codes_test=x[300:], factors_test=factors[300:], n_estimators=5)
    b = dci(x[:300], factors[:300], codes_test=x[300:], factors_test=factors[300:], n_estimators=5)
    np.testing.assert_array_equal(a.importance, b.importance)
    # random codes cannot be predicted on held-out rows
    noise = np.random.default_rng(0).normal(size=(150, 10))
    c = dci(noise, factors[:150], n_estimators=3)
    assert c.informativeness_test < 0.3 < a.informativeness_test


def test_bad_inputs(identity_sample):
    x, factors = identity_sample
    with pytest.raises(CircuitVAEError, match="rows must align"):
        dci(x, factors[:-1])
    with pytest.raises(CircuitVAEError, match="integer classes"):
        dci(x, factors + 0.5)
    with pytest.raises(CircuitVAEError, match="single value"):
        dci(x, np.ones_like(factors))
    with pytest.raises(CircuitVAEError, match="both codes_test and factors_test"):
        dci(x, factors, codes_test=x)
    with pytest.raises(CircuitVAEError, match="n_train"):
        dci(x, factors, n_train=len(x))
    with pytest.raises(CircuitVAEError, match="NaN"):
        dci(np.full_like(x, np.nan), factors)
