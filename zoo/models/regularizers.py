"""The latent regularizers of the zoo, as pure functions of a batch of posteriors.

All follow the reduction convention of the zoo: sum over latent dimensions, mean over the batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """Closed-form ``KL(N(mu, exp(logvar)) || N(0, I))`` [paper].

    ``mean_batch sum_d 0.5 * (mu^2 + exp(logvar) - 1 - logvar)``.
    """
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum(1).mean()


def gaussian_log_density(samples: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """Elementwise ``log N(samples; mean, exp(logvar))`` (broadcasting)."""
    diff = samples - mean
    return -0.5 * (diff * diff * torch.exp(-logvar) + logvar + math.log(2.0 * math.pi))


def total_correlation(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Minibatch-weighted total-correlation estimate of beta-TC-VAE, as disentanglement_lib.

    With ``l[i, j, k] = log q(z_i,k | x_j)`` over a batch of ``B`` samples:

    ``TC = mean_i [ logsumexp_j sum_k l[i,j,k] - sum_k logsumexp_j l[i,j,k] ]``.

    Like disentanglement_lib this drops the ``log(B * N)`` normalisers of the minibatch-weighted
    sampling estimator (Chen et al.); they contribute the constant ``(d - 1) log(B * N)``, which
    does not change the gradients [paper: disentanglement_lib's estimator].
    """
    log_qz_prob = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    log_qz_product = torch.logsumexp(log_qz_prob, dim=1).sum(1)
    log_qz = torch.logsumexp(log_qz_prob.sum(2), dim=1)
    return (log_qz - log_qz_product).mean()


def dip_ii_covariance(mu: Tensor, logvar: Tensor) -> Tensor:
    """DIP-VAE-II covariance ``C = E[diag(exp(logvar))] + Cov[mu]`` (biased, divides by B)."""
    centred = mu - mu.mean(0, keepdim=True)
    cov_mu = centred.T @ centred / mu.shape[0]
    return torch.diag(logvar.exp().mean(0)) + cov_mu


def dip_penalty(cov: Tensor, lambda_od: float, lambda_d: float) -> Tensor:
    """``lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2`` [paper]."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * off.pow(2).sum() + lambda_d * (diag - 1.0).pow(2).sum()
