"""CES: Proposition 1, a closed form on a linear decoder, options and bad input."""

import warnings

import numpy as np
import pytest
import torch

import circuitvae as cv


@pytest.fixture
def x_lin():
    return torch.randn(40, 5, generator=torch.Generator().manual_seed(0))


def test_proposition_1_fixed_over_calibrated_is_one_over_sigma_eff(linear_vae, x_lin):
    fixed = cv.ces(linear_vae, x_lin, calibrated=False)
    cal = cv.ces(linear_vae, x_lin, calibrated=True)
    np.testing.assert_allclose(fixed.sigma_eff, cal.sigma_eff)
    np.testing.assert_allclose(fixed.per_latent / cal.per_latent, 1.0 / cal.sigma_eff, rtol=1e-5)
    np.testing.assert_allclose(cal.grid, cal.sigma_eff[:, None] * fixed.grid, rtol=1e-12)


def test_ces_closed_form_on_a_linear_decoder(linear_vae, x_lin):
    w1 = linear_vae.decoder[0].weight.detach().double().numpy()
    w2 = linear_vae.decoder[1].weight.detach().double().numpy()
    w = w2 @ w1  # (P, d): D(z) = W z + b
    res = cv.ces(linear_vae, x_lin, calibrated=False, r=2.0, k=5)
    mean_abs_delta = np.abs(2.0 * np.linspace(-1, 1, 5)).mean()
    expect = mean_abs_delta * np.linalg.norm(w, axis=0) / np.sqrt(w.shape[0])
    np.testing.assert_allclose(res.per_latent, expect, rtol=1e-5)
    assert res.value == pytest.approx(expect.mean(), rel=1e-5)
    l2 = cv.ces(linear_vae, x_lin, calibrated=False, r=2.0, k=5, reduction="l2")
    np.testing.assert_allclose(l2.per_latent, expect * np.sqrt(w.shape[0]), rtol=1e-5)


def test_prior_scale_equals_fixed_and_n_seed_subsample(mlp):
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(0))
    prior = cv.ces(mlp, x, scale="prior")
    fixed = cv.ces(mlp, x, calibrated=False)
    np.testing.assert_allclose(prior.per_latent, fixed.per_latent, rtol=1e-9)
    a, b = cv.ces(mlp, x, n=10, seed=1), cv.ces(mlp, x, n=10, seed=1)
    assert a.n == 10 and a.value == b.value
    chunked = cv.ces(mlp, x, max_batch_rows=7)
    np.testing.assert_allclose(chunked.per_latent, cv.ces(mlp, x).per_latent, rtol=1e-6)


def test_vq_model_warns_unless_discrete_ok(vq):
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="code-swap"):
        cv.ces(vq, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cv.ces(vq, x, discrete_ok=True)


def test_bad_data(mlp):
    x = torch.randn(5, 6)
    x[2, 1] = float("nan")
    with pytest.raises(cv.CircuitVAEError, match="NaN"):
        cv.ces(mlp, x)
    with pytest.raises(cv.CircuitVAEError, match="expects"):
        cv.ces(mlp, torch.randn(5, 7))
    with pytest.raises(cv.CircuitVAEError, match="empty"):
        cv.ces(mlp, torch.randn(0, 6))
    with pytest.raises(cv.CircuitVAEError, match="reduction"):
        cv.ces(mlp, torch.randn(5, 6), reduction="max")
