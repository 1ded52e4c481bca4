"""circuitvae.zoo: the seed papers' six VAE architectures, one trainer, benchmark datasets.

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
    VQVAE,
    BetaTCVAE,
    BetaTCVAEConfig,
    BetaVAE,
    BetaVAEConfig,
    CheckpointError,
    DIPVAEIIConfig,
    FactorVAE,
    FactorVAEConfig,
    VAEConfig,
    VQVAEConfig,
    ZooModel,
    build,
    load,
    save,
)
from .training import TrainConfig, evaluate, train

__all__ = [
    "ARCHITECTURES",
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
    "TrainConfig",
    "VAEConfig",
    "VQVAEConfig",
    "ZooModel",
    "build",
    "evaluate",
    "load",
    "save",
    "train",
]
