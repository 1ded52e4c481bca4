"""Tiny hand-built models and fake datasets shared by the intervention and causal-metric tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from circuitvae.protocol import DiscretePosterior, Feature, Posterior, Split


class MLPVAE(nn.Module):
    """A sequential MLP VAE speaking the protocol (ReLU hidden layers)."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, p: int = 6, d: int = 3, h: int = 8, act: type = nn.ReLU, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim, self.input_shape = d, (p,)
        self.encoder = nn.Sequential(nn.Linear(p, h), act(), nn.Linear(h, h), act())
        self.fc_mu, self.fc_logvar = nn.Linear(h, d), nn.Linear(h, d)
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()
        self.decoder = nn.Sequential(nn.Linear(d, h), act(), nn.Linear(h, h), act(),
                                     nn.Linear(h, p))
        self.eval()

    def encode(self, x):
        hid = self.encoder(x)
        return Posterior(self.hook_mu(self.fc_mu(hid)), self.hook_logvar(self.fc_logvar(hid)))

    def decode(self, z):
        return self.decoder(self.hook_z(z))


class LinearVAE(nn.Module):
    """Encoder and decoder both linear (two layers each, no nonlinearity)."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, p: int = 5, d: int = 3, h: int = 6, seed: int = 1):
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim, self.input_shape = d, (p,)
        self.encoder = nn.Sequential(nn.Linear(p, h))
        self.fc_mu, self.fc_logvar = nn.Linear(h, d), nn.Linear(h, d)
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()
        self.decoder = nn.Sequential(nn.Linear(d, h), nn.Linear(h, p))
        self.eval()

    def encode(self, x):
        hid = self.encoder(x)
        return Posterior(self.hook_mu(self.fc_mu(hid)), self.hook_logvar(self.fc_logvar(hid)))

    def decode(self, z):
        return self.decoder(self.hook_z(z))


class CircuitVAE(nn.Module):
    """G feature groups of c columns, u hidden units per group, latent j <-> group j.

    ``planted=True``: every layer is block diagonal (group g -> hidden block g -> z_g ->
    decoder block g -> output columns of g). ``planted=False``: fully mixed, every unit reads
    every input with a weight that depends on the unit only, and every latent drives every
    output column equally.
    """

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, groups: int = 4, c: int = 3, u: int = 2, planted: bool = True):
        super().__init__()
        g_, p, h = groups, groups * c, groups * u
        self.latent_dim, self.input_shape = g_, (p,)
        gen = torch.Generator().manual_seed(3)
        self.enc = nn.Linear(p, h)
        self.fc_mu, self.fc_logvar = nn.Linear(h, g_), nn.Linear(h, g_)
        self.dec = nn.Linear(g_, h)
        self.out = nn.Linear(h, p)
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()
        with torch.no_grad():
            for layer in (self.enc, self.fc_mu, self.fc_logvar, self.dec, self.out):
                layer.bias.zero_()
            self.fc_logvar.weight.zero_()
            if planted:
                for layer, (rows, cols) in (
                    (self.enc, (u, c)), (self.fc_mu, (1, u)), (self.dec, (u, 1)),
                    (self.out, (c, u)),
                ):
                    w = torch.zeros_like(layer.weight)
                    for g in range(g_):
                        w[g * rows:(g + 1) * rows, g * cols:(g + 1) * cols] = (
                            0.5 + torch.rand(rows, cols, generator=gen)
                        )
                    layer.weight.copy_(w)
            else:
                a = 0.5 + torch.rand(h, 1, generator=gen)
                self.enc.weight.copy_(a.expand(h, p))
                self.fc_mu.weight.copy_((0.5 + torch.rand(g_, 1, generator=gen)).expand(g_, h))
                self.dec.weight.copy_(a.expand(h, g_))
                self.out.weight.copy_(torch.ones(p, h))
        self.eval()

    def encode(self, x):
        hid = self.enc(x)
        return Posterior(self.hook_mu(self.fc_mu(hid)), self.hook_logvar(self.fc_logvar(hid)))

    def decode(self, z):
        return self.out(self.dec(self.hook_z(z)))


class ConvVAE(nn.Module):
    """A tiny conv VAE on (1, 4, 4) images."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, d: int = 2):
        super().__init__()
        torch.manual_seed(4)
        self.latent_dim, self.input_shape = d, (1, 4, 4)
        self.conv = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU())
        self.fc_mu, self.fc_logvar = nn.Linear(48, d), nn.Linear(48, d)
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()
        self.fc_dec = nn.Linear(d, 48)
        self.deconv = nn.Conv2d(3, 1, 3, padding=1)
        self.eval()

    def encode(self, x):
        hid = self.conv(x).flatten(1)
        return Posterior(self.hook_mu(self.fc_mu(hid)), self.hook_logvar(self.fc_logvar(hid)))

    def decode(self, z):
        hid = torch.relu(self.fc_dec(self.hook_z(z))).reshape(-1, 3, 4, 4)
        return torch.sigmoid(self.deconv(hid))


class TinyVQ(nn.Module):
    """A vector-quantized model: 2 positions of dim 2, codebook of 4 entries."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_z")

    def __init__(self, p: int = 6):
        super().__init__()
        torch.manual_seed(5)
        self.latent_dim, self.input_shape = 4, (p,)
        self.enc = nn.Linear(p, 4)
        self.codebook = nn.Parameter(torch.randn(4, 2))
        self.hook_mu, self.hook_z = nn.Identity(), nn.Identity()
        self.dec = nn.Linear(4, p)
        self.eval()

    def _codes(self, ze):
        flat = ze.reshape(-1, 2, 1, 2)
        return ((flat - self.codebook[None, None]) ** 2).sum(-1).argmin(-1)

    def encode(self, x):
        ze = self.hook_mu(self.enc(x))
        return DiscretePosterior(ze, None, codes=self._codes(ze), codebook=self.codebook)

    def decode(self, z):
        z = self.hook_z(z)
        zq = self.codebook[self._codes(z)].flatten(1)
        return torch.sigmoid(self.dec(zq))


@dataclass
class FakeTabular:
    """A tabular dataset: G groups of c numeric columns (group g = features g*c..)."""

    name: str
    train: Split
    test: Split
    features: list
    groups: dict

    def group_columns(self, kind: str, seed: int = 0):
        sem = {g: [c for f in fs for c in self._cols[f]] for g, fs in self.groups.items()}
        if kind == "semantic":
            return sem
        if kind == "random":
            perm = np.random.default_rng(seed).permutation(sum(len(v) for v in sem.values()))
            out, start = {}, 0
            for i, v in enumerate(sem.values()):
                out[f"r{i}"] = sorted(perm[start:start + len(v)].tolist())
                start += len(v)
            return out
        raise ValueError(kind)

    @property
    def _cols(self):
        return {f.name: list(f.columns) for f in self.features}


def make_tabular(groups: int = 4, c: int = 3, n: int = 64, seed: int = 0) -> FakeTabular:
    rng = np.random.default_rng(seed)
    p = groups * c
    feats = [Feature(f"f{i}", "numeric", (i,)) for i in range(p)]
    grp = {f"g{g}": [f"f{g * c + i}" for i in range(c)] for g in range(groups)}
    y = rng.integers(0, 2, size=n)
    x_tr = (rng.normal(size=(n, p)) + y[:, None] * 0.8).astype(np.float32)
    x_te = (rng.normal(size=(n, p)) + y[:, None] * 0.8).astype(np.float32)
    return FakeTabular(
        "fake", Split(torch.as_tensor(x_tr), y.copy(), None),
        Split(torch.as_tensor(x_te), y.copy(), None), feats, grp,
    )


class FakeImages:
    """(1, 4, 4) images from 2 factors: a bright row (4 values) and a bright column (4)."""

    name = "fake_images"
    factor_sizes = (4, 4)
    factor_names = ("row", "col")

    def __init__(self, n: int = 40):
        rng = np.random.default_rng(0)
        f = self.sample_factors(n, rng)
        self.train = Split(torch.as_tensor(self.sample_observations_from_factors(f, rng)),
                           f[:, 0].copy(), f)
        f = self.sample_factors(n, rng)
        self.test = Split(torch.as_tensor(self.sample_observations_from_factors(f, rng)),
                          f[:, 0].copy(), f)

    def sample_factors(self, num, random_state):
        draw = getattr(random_state, "integers", None) or random_state.randint
        return np.stack([draw(0, s, size=num) for s in self.factor_sizes], 1)

    def sample_observations_from_factors(self, factors, random_state):
        img = np.zeros((len(factors), 1, 4, 4), dtype=np.float32)
        for i, (r, c) in enumerate(factors):
            img[i, 0, r, :] += 0.5
            img[i, 0, :, c] += 0.5
        return img


@pytest.fixture
def mlp():
    return MLPVAE()


@pytest.fixture
def linear_vae():
    return LinearVAE()


@pytest.fixture
def tabular():
    return make_tabular()


@pytest.fixture
def xpair():
    gen = torch.Generator().manual_seed(7)
    return torch.randn(10, 6, generator=gen), torch.randn(10, 6, generator=gen)


@pytest.fixture
def conv_vae():
    return ConvVAE()


@pytest.fixture
def fake_images():
    return FakeImages()


@pytest.fixture
def vq():
    return TinyVQ()


@pytest.fixture
def circuit_models():
    return CircuitVAE(planted=True), CircuitVAE(planted=False)
