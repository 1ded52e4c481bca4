"""circuitvae.zoo: the seed papers' six VAE architectures and the VAE-SAE, one trainer, datasets.

Example::

    from circuitvae.zoo import build, train, save, load
    model = build("beta_vae", input_shape=(12,), seed=42)
    model = train(model, x_train, seed=42, max_epochs=50, verbose=False)
    save(model, "runs/beta_vae")
    same = load("runs/beta_vae")

Datasets live in :mod:`circuitvae.zoo.data`.
"""

from __future__ import annotations

from .models import (
    ARCHITECTURES,
    DIPVAEII,
    VAE,
    VAESAE,
    VQVAE,
    BayesAttentionVAE,
    BayesAttentionVAEConfig,
    BetaTCVAE,
    BetaTCVAEConfig,
    BetaVAE,
    BetaVAEConfig,
    CheckpointError,
    DIPVAEIIConfig,
    FactorVAE,
    FactorVAEConfig,
    SparsitySchedule,
    VAEConfig,
    VAESAEConfig,
    VQVAEConfig,
    ZooModel,
    build,
    load,
    save,
)
from .training import TrainConfig, evaluate, train

__all__ = [
    "ARCHITECTURES",
    "BayesAttentionVAE",
    "BayesAttentionVAEConfig",
    "VAE",
    "VQVAE",
    "BetaTCVAE",
    "BetaTCVAEConfig",
    "BetaVAE",
    "BetaVAEConfig",
    "CheckpointError",
    "DIPVAEII",
    "DIPVAEIIConfig",
    "FactorVAE",
    "FactorVAEConfig",
    "SparsitySchedule",
    "TrainConfig",
    "VAEConfig",
    "VAESAE",
    "VAESAEConfig",
    "VQVAEConfig",
    "ZooModel",
    "build",
    "evaluate",
    "load",
    "save",
    "train",
]
