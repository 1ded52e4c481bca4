"""Tiny protocol-speaking models for the engine tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import circuitvae as cv


class TinyVAE(nn.Module):
    """A sequential MLP VAE that speaks the protocol natively."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, n_in: int = 6, hidden: int = 8, latent_dim: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.input_shape = (n_in,)
        self.encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.Tanh())
        self.fc_mu = nn.Linear(hidden, latent_dim)
        self.fc_logvar = nn.Linear(hidden, latent_dim)
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, n_in))

    def encode(self, x: torch.Tensor) -> cv.Posterior:
        h = self.encoder(x)
        return cv.Posterior(self.hook_mu(self.fc_mu(h)), self.hook_logvar(self.fc_logvar(h)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.hook_z(z))


class TinyConvVAE(nn.Module):
    """A small conv VAE on 1x16x16 images, for channel-level patches."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, latent_dim: int = 2) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.input_shape = (1, 16, 16)
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Conv2d(4, 4, 4, 2, 1),
                                     nn.ReLU(), nn.Flatten())
        self.fc = nn.Linear(64, 2 * latent_dim)
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 64), nn.Unflatten(1, (4, 4, 4)),
                                     nn.ConvTranspose2d(4, 4, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> cv.Posterior:
        mu, logvar = self.fc(self.encoder(x)).chunk(2, dim=1)
        return cv.Posterior(self.hook_mu(mu), self.hook_logvar(logvar))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.hook_z(z))


@pytest.fixture
def tiny() -> TinyVAE:
    torch.manual_seed(0)
    return TinyVAE().eval()


@pytest.fixture
def tiny_conv() -> TinyConvVAE:
    torch.manual_seed(0)
    return TinyConvVAE().eval()


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(5, 6, generator=g), torch.randn(5, 6, generator=g)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test taking `backend` runs on both backends (nnsight where installed)."""
    if "backend" in metafunc.fixturenames:
        backends = ["torch"]
        try:
            import nnsight  # noqa: F401

            backends.append("nnsight")
        except ImportError:
            pass
        metafunc.parametrize("backend", backends)
