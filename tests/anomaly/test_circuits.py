"""Which sites and latents carry the anomaly score: closed forms on a linear model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import circuitvae as cv
from circuitvae.anomaly_circuits import latent_score_ces, site_score_effects
from circuitvae.protocol import CircuitVAEError


class Subspace(nn.Module):
    """Encodes the first 2 coordinates (through the site ``code``), decodes them back padded
    with zeros: m(x) = (x1, x2, 0, 0, 0)."""

    speaks_circuitvae = True

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.latent_dim, self.input_shape = 2, (5,)
        self.code = nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.eval()

    def encode(self, x):
        return cv.Posterior(self.code(x[:, :2]), torch.zeros_like(x[:, :2]))

    def decode(self, z):
        return torch.cat([self.drop(z), z.new_zeros(z.shape[0], 3)], dim=1)


def test_a_site_effect_is_the_score_change_in_closed_form():
    g = torch.Generator().manual_seed(0)
    a, n = torch.randn(30, 5, generator=g), torch.randn(30, 5, generator=g)
    res = site_score_effects(Subspace(), a, n, ["code"])
    expected = ((a[:, :2] - n[:, :2]) ** 2).sum(1) / 5
    assert res.effect[0] == pytest.approx(float(expected.mean()), rel=1e-6)
    base = (a[:, 2:] ** 2).sum(1) / 5
    assert res.base_score == pytest.approx(float(base.mean()), rel=1e-6)
    assert res.share[0] == pytest.approx(float((expected / base).mean()), rel=1e-5)
    same = site_score_effects(Subspace(), a, a.clone(), ["code"])  # patching in itself
    assert same.effect[0] == 0.0 and same.table()[0][0] == "code"


def test_latent_score_ces_in_closed_form():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 5, generator=g)
    res = latent_score_ces(Subspace(), x, r=2.0, k=5)
    # S changes by delta^2 / 5 when latent j moves by delta = sigma_j * r * g
    grid = np.linspace(-1, 1, 5) * 2.0
    sigma = x[:, :2].std(0, unbiased=False).numpy()
    np.testing.assert_allclose(res.per_latent, sigma ** 2 * np.mean(grid ** 2) / 5, rtol=1e-5)
    assert (res.sd == 0).all() and res.mc_passes == 1


def test_the_epistemic_error_bar_needs_dropout_and_spreads_with_it():
    x = torch.randn(20, 5)
    with pytest.raises(CircuitVAEError, match="needs dropout layers"):
        latent_score_ces(Subspace(), x, mc_passes=4)
    res = latent_score_ces(Subspace(dropout=0.3), x, mc_passes=6, seed=0)
    assert res.per_pass.shape == (6, 2) and (res.sd > 0).all()
    again = latent_score_ces(Subspace(dropout=0.3), x, mc_passes=6, seed=0)
    np.testing.assert_array_equal(res.per_pass, again.per_pass)


def test_bad_inputs_are_named():
    x = torch.randn(4, 5)
    with pytest.raises(CircuitVAEError, match="must pair up"):
        site_score_effects(Subspace(), x, x[:3], ["code"])
    with pytest.raises(CircuitVAEError, match="sites is empty"):
        site_score_effects(Subspace(), x, x, [])
    with pytest.raises(CircuitVAEError, match="2\\+ rows"):
        latent_score_ces(Subspace(), x[:1])
