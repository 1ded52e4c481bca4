"""FactorVAE and BetaVAE scores on IdentityObservationsData, and the model representation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitvae.metrics._ground_truth import representation_function
from circuitvae.metrics.beta_vae_score import beta_vae_score
from circuitvae.metrics.factor_vae_score import factor_vae_score
from circuitvae.protocol import CircuitVAEError

SMALL = {"batch_size": 5, "n_train": 300, "n_eval": 200}


def identity(x):
    return np.asarray(x, dtype=np.float64)


def test_factor_vae_identity_is_perfect(identity_data):
    result = factor_vae_score(identity_data, identity, n_variance_estimate=500, **SMALL)
    assert 0.9 <= result.train_accuracy <= 1.0
    assert 0.9 <= result.eval_accuracy <= 1.0
    assert result.value == result.eval_accuracy
    assert result.n_active_dims == 10
    # each factor's votes all go to its own code
    assert result.votes_train.sum() == SMALL["n_train"]
    np.testing.assert_array_equal(np.argmax(result.votes_train, axis=0), np.arange(10))


def test_factor_vae_zeros_prunes_everything(identity_data):
    result = factor_vae_score(identity_data, np.zeros_like, n_variance_estimate=500, **SMALL)
    assert 0.0 <= result.eval_accuracy <= 0.2
    assert result.n_active_dims == 0


def test_factor_vae_pruned_dims_never_vote(identity_data):
    def half_dead(x):
        z = identity(x)
        z[:, 5:] *= 0.001  # std ~ 0.003 < 0.05: pruned
        return z

    result = factor_vae_score(identity_data, half_dead, n_variance_estimate=500, **SMALL)
    assert result.n_active_dims == 5
    assert result.votes_train[:, 5:].sum() == 0
    # factors 5..9 have no code, so about half of the votes are misclassified
    assert 0.4 <= result.eval_accuracy <= 0.7


def test_beta_vae_identity_and_noise(identity_data):
    result = beta_vae_score(identity_data, identity, **SMALL)
    assert 0.9 <= result.train_accuracy <= 1.0
    assert 0.9 <= result.eval_accuracy <= 1.0
    assert result.coef.shape == (10, 10)

    def noise(x):
        return np.random.default_rng(len(x) + int(np.sum(x))).normal(size=np.shape(x))

    small = {**SMALL, "n_train": 100, "n_eval": 100}
    assert beta_vae_score(identity_data, noise, **small).eval_accuracy < 0.3


def test_same_seed_same_result(identity_data):
    def noisy(x):
        return identity(x) + np.sin(np.arange(10) * identity(x))

    a = factor_vae_score(identity_data, noisy, seed=7, n_variance_estimate=200, **SMALL)
    b = factor_vae_score(identity_data, noisy, seed=7, n_variance_estimate=200, **SMALL)
    np.testing.assert_array_equal(a.votes_train, b.votes_train)


def test_representation_function_from_model(identity_data, identity_model):
    identity_model.train()
    fn = representation_function(identity_model, batch_size=7)
    obs = identity_data.sample_observations_from_factors(
        identity_data.sample_factors(20, np.random.RandomState(0)), None
    )
    np.testing.assert_allclose(fn(obs), obs, rtol=1e-6)
    assert identity_model.training  # mode restored
    result = factor_vae_score(identity_data, fn, n_variance_estimate=200, **SMALL)
    assert result.eval_accuracy >= 0.9
    with pytest.raises(CircuitVAEError, match="expects"):
        fn(np.zeros((3, 4)))


def test_bad_dataset_and_representation(identity_data):
    with pytest.raises(CircuitVAEError, match="sample_factors"):
        factor_vae_score(object(), identity)
    with pytest.raises(CircuitVAEError, match=r"expected \(5, d\)"):
        beta_vae_score(identity_data, lambda x: identity(x)[:2], **SMALL)
    with pytest.raises(CircuitVAEError, match="RandomState"):
        beta_vae_score(identity_data, identity, seed=np.random.default_rng(0), **SMALL)
    with pytest.raises(CircuitVAEError, match="NaN"):
        factor_vae_score(identity_data, lambda x: identity(x) * np.nan, **SMALL)
    with pytest.raises(CircuitVAEError, match="encode"):
        representation_function(torch.nn.Linear(2, 2))
