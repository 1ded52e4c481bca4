"""The six VAE architectures of the seed papers and the VAE-SAE, speaking circuitvae's protocol
natively."""

from __future__ import annotations

from .attention_vae import BayesAttentionVAE, MultiHeadSelfAttention
from .base import ZooModel
from .checkpoint import CheckpointError, load, save
from .config import (
    BayesAttentionVAEConfig,
    BetaTCVAEConfig,
    BetaVAEConfig,
    DIPVAEIIConfig,
    FactorVAEConfig,
    VAEConfig,
    VAESAEConfig,
    VQVAEConfig,
)
from .factor_vae import FactorVAE, permute_dims
from .gaussian import DIPVAEII, VAE, BetaTCVAE, BetaVAE
from .registry import ARCHITECTURES, build
from .sparsity_schedule import SparsitySchedule
from .vae_sae import VAESAE, TopK
from .vq_vae import VQVAE, VectorQuantizer

__all__ = [
    "ARCHITECTURES",
    "BayesAttentionVAE",
    "BayesAttentionVAEConfig",
    "MultiHeadSelfAttention",
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
    "TopK",
    "VAEConfig",
    "VAESAE",
    "VAESAEConfig",
    "VQVAEConfig",
    "VectorQuantizer",
    "ZooModel",
    "build",
    "load",
    "permute_dims",
    "save",
]
