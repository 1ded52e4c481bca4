"""The Gaussian-posterior architectures: VAE, beta-VAE, beta-TC-VAE, DIP-VAE-II.

Each differs from the VAE only in its latent regularizer (the loss is ``recon + regularizer``):

* VAE: ``KL`` [paper];
* beta-VAE: ``beta * KL``, beta = 4 [paper];
* beta-TC-VAE: ``KL + (beta - 1) * TC`` with the minibatch-weighted TC estimate, as
  disentanglement_lib [Chen et al. 2018]; beta = 6 [our choice];
* DIP-VAE-II: ``KL + lambda_od * sum offdiag(C)^2 + lambda_d * sum (diag(C) - 1)^2`` with
  ``C = E[diag(exp(logvar))] + Cov[mu]`` [Kumar et al. 2018]; lambda_od = lambda_d = 10
  [our choice].
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import LossTerms, ZooModel
from .config import BetaTCVAEConfig, BetaVAEConfig, DIPVAEIIConfig, VAEConfig
from .regularizers import dip_ii_covariance, dip_penalty, total_correlation


class VAE(ZooModel):
    """The standard VAE: loss = recon + KL."""

    architecture = "vae"
    config_class = VAEConfig


class BetaVAE(ZooModel):
    """beta-VAE: loss = recon + beta * KL (beta = 4)."""

    architecture = "beta_vae"
    config_class = BetaVAEConfig

    def regularizer(self, mu: Tensor, logvar: Tensor, z: Tensor, kl: Tensor,
                    generator: torch.Generator | None) -> tuple[Tensor, LossTerms]:
        return self.config.beta * kl, {}  # type: ignore[attr-defined]


class BetaTCVAE(ZooModel):
    """beta-TC-VAE: loss = recon + KL + (beta - 1) * TC (beta = 6), TC in the ``tc`` term."""

    architecture = "beta_tc_vae"
    config_class = BetaTCVAEConfig

    def regularizer(self, mu: Tensor, logvar: Tensor, z: Tensor, kl: Tensor,
                    generator: torch.Generator | None) -> tuple[Tensor, LossTerms]:
        tc = total_correlation(z, mu, logvar)
        return kl + (self.config.beta - 1.0) * tc, {"tc": tc}  # type: ignore[attr-defined]


class DIPVAEII(ZooModel):
    """DIP-VAE-II: loss = recon + KL + covariance penalty (``dip`` term)."""

    architecture = "dip_vae_ii"
    config_class = DIPVAEIIConfig

    def regularizer(self, mu: Tensor, logvar: Tensor, z: Tensor, kl: Tensor,
                    generator: torch.Generator | None) -> tuple[Tensor, LossTerms]:
        cfg = self.config
        pen = dip_penalty(dip_ii_covariance(mu, logvar), cfg.lambda_od,  # type: ignore[attr-defined]
                          cfg.lambda_d)  # type: ignore[attr-defined]
        return kl + pen, {"dip": pen}
