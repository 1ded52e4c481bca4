"""Shared fixtures of the zoo tests: tiny models and small generated datasets."""

from __future__ import annotations

import pytest
import torch

from circuitvae.protocol import Feature

# Tiny per-architecture overrides so tests stay fast.
_TINY = {
    "factor_vae": {"disc_hidden": 16, "disc_layers": 2},
    "vq_vae": {"num_codes": 16, "num_positions": 3, "embedding_dim": 2, "latent_dim": None},
    "vae_sae": {"sparse_units": 12, "k_start": 12, "k_end": 4, "schedule_epochs": 3},
    "bayes_attention_vae": {"tokens": 2, "heads": 2, "warmup_epochs": 1},
}


def tiny_kwargs(name: str, backbone: str = "mlp") -> dict:
    """Config overrides of a tiny model of architecture ``name``."""
    kw: dict = {"latent_dim": 3}
    if backbone == "mlp":
        kw["hidden"] = (32, 16)
    else:
        kw.update(conv_channels=(4, 4, 8, 8), fc_hidden=16)
    kw.update(_TINY.get(name, {}))
    return kw


@pytest.fixture
def tiny():
    """``tiny(name, backbone="mlp")`` -> config overrides of a tiny model."""
    return tiny_kwargs


@pytest.fixture
def features() -> list[Feature]:
    """Two numeric columns, a 3-way categorical block, one more numeric column."""
    return [
        Feature("a", "numeric", (0,)),
        Feature("b", "numeric", (1,)),
        Feature("colour", "categorical", (2, 3, 4)),
        Feature("c", "numeric", (5,)),
    ]


@pytest.fixture
def tabular() -> torch.Tensor:
    """256 rows driven by two latent factors: numeric columns + a one-hot block."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(256, 2, generator=g)
    numeric = z @ torch.tensor([[1.0, 0.5, -1.0], [0.3, -1.0, 0.8]])
    numeric = numeric + 0.05 * torch.randn(256, 3, generator=g)
    cat = torch.nn.functional.one_hot((z[:, 0] > 0).long() + (z[:, 1] > 0.5).long(), 3).float()
    return torch.cat([numeric[:, :2], cat, numeric[:, 2:]], dim=1)


@pytest.fixture
def images() -> torch.Tensor:
    """Eight binary 64x64 images: squares at different places."""
    x = torch.zeros(8, 1, 64, 64)
    for i in range(8):
        r, c = 4 + 6 * i, 40 - 4 * i
        x[i, 0, r:r + 12, c:c + 12] = 1.0
    return x
