"""Tiny models speaking the protocol, and models that break it, for the bad-input tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import circuitvae as cv
from circuitvae.protocol import Posterior


class TinyVAE(nn.Module):
    """An MLP VAE on 6 inputs with 3 latents (ReLU hidden layers)."""

    latent_sites = ("hook_z",)

    def __init__(self, p: int = 6, d: int = 3, h: int = 8):
        super().__init__()
        torch.manual_seed(0)
        self.latent_dim, self.input_shape = d, (p,)
        self.encoder = nn.Sequential(nn.Linear(p, h), nn.ReLU())
        self.fc_mu, self.fc_logvar = nn.Linear(h, d), nn.Linear(h, d)
        self.hook_z = nn.Identity()
        self.decoder = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, p))
        self.eval()

    def encode(self, x):
        hid = self.encoder(x)
        return Posterior(self.fc_mu(hid), self.fc_logvar(hid))

    def decode(self, z):
        return self.decoder(self.hook_z(z))


class OneRowDecode(TinyVAE):
    """decode returns a single row whatever the batch."""

    def decode(self, z):
        return super().decode(z)[:1]


class ExtraDimEncode(TinyVAE):
    """encode returns mean and logvar of shape (N, d, 1)."""

    def encode(self, x):
        post = super().encode(x)
        return Posterior(post.mean[..., None], post.logvar[..., None])


class DropRowsEncode(TinyVAE):
    """encode drops the last row."""

    def encode(self, x):
        post = super().encode(x)
        return Posterior(post.mean[:-1], post.logvar[:-1])


class WrongWidthEncode(TinyVAE):
    """encode returns d + 1 columns."""

    def encode(self, x):
        post = super().encode(x)
        return Posterior(torch.cat([post.mean, post.mean[:, :1]], 1), None)


class MismatchedLogvar(TinyVAE):
    """logvar has one column fewer than mean."""

    def encode(self, x):
        post = super().encode(x)
        return Posterior(post.mean, post.logvar[:, :-1])


class ScalarDecode(TinyVAE):
    """decode returns a 0-d tensor."""

    def decode(self, z):
        return super().decode(z).sum()


class TupleDecode(TinyVAE):
    """decode returns a tuple instead of a tensor."""

    def decode(self, z):
        out = super().decode(z)
        return (out, out)


class NotAPosterior(TinyVAE):
    """encode returns a bare tensor."""

    def encode(self, x):
        return super().encode(x).mean


class HalfDecode(TinyVAE):
    """decode returns half the rows."""

    def decode(self, z):
        out = super().decode(z)
        return out[: max(1, out.shape[0] // 2)]


class OverflowDecode(TinyVAE):
    """decode overflows to inf on every row (a finite encoding)."""

    def decode(self, z):
        return super().decode(z) * 1e38 * 1e38


class ConstantEncode(TinyVAE):
    """Every row has the same code (zero variance over the rows)."""

    def encode(self, x):
        post = super().encode(x)
        return Posterior(torch.zeros_like(post.mean) + 0.5, post.logvar)


@pytest.fixture
def model():
    return TinyVAE()


@pytest.fixture
def x():
    return torch.randn(16, 6, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def wrapped():
    tiny = TinyVAE()
    return cv.wrap(encode=lambda x: (tiny.fc_mu(tiny.encoder(x)), tiny.fc_logvar(tiny.encoder(x))),
                   decode=tiny.decode, module=tiny, latent_dim=3, input_shape=(6,))


@pytest.fixture
def bad():
    """The model classes of this folder (test modules cannot import conftest under
    ``--import-mode=importlib``)."""
    from types import SimpleNamespace

    return SimpleNamespace(**{c.__name__: c for c in (
        TinyVAE, OneRowDecode, ExtraDimEncode, DropRowsEncode, WrongWidthEncode,
        MismatchedLogvar, ScalarDecode, TupleDecode, NotAPosterior, HalfDecode, OverflowDecode,
        ConstantEncode)})
