"""Ridgeway & Mozer modularity: disentanglement_lib's closed-form matrices and end-to-end cases."""

from __future__ import annotations

import numpy as np
import pytest

from circuitvae.metrics.mig import discrete_mutual_info
from circuitvae.metrics.ridgeway import modularity_explicitness, ridgeway_modularity
from circuitvae.protocol import CircuitVAEError

DIAG = np.diag(5.0 * np.ones(5))


@pytest.mark.parametrize(
    ("matrix", "expected"),
    [
        (DIAG, 1.0),
        (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 2.0 / 3.0),
        (np.zeros((10, 10)), 0.0),
        (np.vstack([DIAG, DIAG]), 1.0),
        (DIAG[:2, :], 1.0),
        (np.hstack([DIAG, DIAG]), 1.0 - 1.0 / 9.0),
    ],
    ids=["diagonal", "empty_codes", "zero", "redundant", "missed_factors", "one_code_two"],
)
def test_closed_form(matrix, expected):
    np.testing.assert_allclose(ridgeway_modularity(matrix).value, expected)


def test_per_latent_by_hand():
    # latent 0: max 2, others 1 and 0 over G = 3 groups -> 1 - 1 / (4 * 2) = 7/8
    result = ridgeway_modularity(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]))
    np.testing.assert_allclose(result.per_latent, [7.0 / 8.0, 1.0])
    np.testing.assert_allclose(result.value, 15.0 / 16.0)


def test_errors():
    with pytest.raises(CircuitVAEError, match="at least 2 groups"):
        ridgeway_modularity(np.ones((3, 1)))
    with pytest.raises(CircuitVAEError, match="non-negative"):
        ridgeway_modularity(-np.ones((2, 2)))


def test_modularity_explicitness_identity_and_duplicate(identity_sample):
    x, factors = identity_sample
    good = modularity_explicitness(x[:, :3], factors[:, :3], discretizer="identity")
    assert 0.9 <= good.modularity <= 1.0
    assert good.explicitness_test > 0.9
    assert good.mutual_info.shape == (3, 3)
    noise = np.random.default_rng(0).normal(size=(len(x), 3))
    bad = modularity_explicitness(noise, factors[:, :3])
    assert bad.explicitness_test < 0.65
    # modularity is computed on the train rows' MI matrix
    dup = ridgeway_modularity(discrete_mutual_info(np.hstack([x, x]), factors))
    assert 0.9 <= dup.value <= 1.0


def test_modularity_of_permuted_codes_is_low(identity_data, permute):
    rs = np.random.RandomState(0)
    factors = identity_data.sample_factors(20000, rs)
    codes = permute(identity_data.sample_observations_from_factors(factors, rs))
    assert 0.0 <= ridgeway_modularity(discrete_mutual_info(codes, factors)).value <= 0.2
