"""cv.wrap(module) with no arguments: the latent size and the sites come from the first batch.

Each client style below is written as people write it (no latent_dim attribute, no
input_shape), wrapped with ``cv.wrap(module)`` alone, and run through ``ces``, ``patch``,
``mediate``, ``path_patch`` and ``analyze``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import circuitvae as cv
from circuitvae.protocol import NotAVAEError


class ExamplesVAE(nn.Module):
    """The VAE of the PyTorch examples repository (mnist/main.py), at a small size."""

    def __init__(self, p: int = 16, h: int = 12, d: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(p, h)
        self.fc21 = nn.Linear(h, d)
        self.fc22 = nn.Linear(h, d)
        self.fc3 = nn.Linear(d, h)
        self.fc4 = nn.Linear(h, p)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 16))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


class NormalConvVAE(nn.Module):
    """A conv VAE whose encoder returns a torch.distributions.Normal."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(4 * 4 * 4, 6))
        self.dec = nn.Sequential(nn.Linear(3, 4 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (4, 4, 4)),
                                 nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Sigmoid())

    def encode(self, x):
        mu, log_std = self.enc(x).chunk(2, dim=1)
        return torch.distributions.Normal(mu, log_std.exp())

    def decode(self, z):
        return self.dec(z)


def _nnsight_vae():
    nnsight = pytest.importorskip("nnsight")
    return nnsight.NNsight(ExamplesVAE())


CLIENTS = {
    "pytorch-examples": (ExamplesVAE, (16,)),
    "nnsight": (_nnsight_vae, (16,)),
    "normal-conv": (NormalConvVAE, (1, 8, 8)),
}


@pytest.mark.parametrize("style", list(CLIENTS))
def test_each_client_style_wraps_with_no_arguments(style):
    make, row = CLIENTS[style]
    model = cv.wrap(make())
    assert model.latent_dim is None and model.input_shape is None  # nothing known yet
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(24, *row, generator=gen)
    base, source = x[:6], x[6:12]

    r = cv.ces(model, x, n=None)  # the first batch: shapes and latent size are found here
    assert model.latent_dim == 3 and model.input_shape == row
    assert math.isfinite(r.value) and r.per_latent.shape == (3,)
    names = cv.sites(model)
    decoder_site = next(s.name for s in cv.site_table(model) if s.part == "decoder")
    p = cv.patch(model, base, source, site=decoder_site)
    assert math.isfinite(p.effect) and p.effect > 0
    # a whole decoder layer patched from the source reproduces the source's output
    np.testing.assert_allclose(p.patched_output, p.source_output, atol=1e-5)
    m = cv.mediate(model, base, source, mediator=decoder_site)
    assert np.isfinite(m.te).all() and m.proportion == pytest.approx(1.0, abs=1e-4)
    path = cv.path_patch(model, base, source, path={"hook_z": None, decoder_site: None})
    np.testing.assert_allclose(np.asarray(path.contributions).sum(axis=0),
                               np.asarray(path.total), atol=1e-5)
    row_df = cv.analyze(model, x, n=20, metrics="interventional")
    assert math.isfinite(row_df.iloc[0]["ces_calibrated"])
    assert "hook_mu" in names and "hook_z" in names


def test_sites_before_any_input_say_what_to_do():
    model = cv.wrap(ExamplesVAE())
    with pytest.raises(cv.CircuitVAEError, match="has seen no input; pass an example input"):
        cv.sites(model)
    assert "fc3" in cv.sites(model, example=torch.zeros(2, 16))


def test_decode_before_any_input_says_what_to_do():
    model = cv.wrap(ExamplesVAE())
    with pytest.raises(cv.CircuitVAEError, match="latent size .* is not known yet"):
        cv.run(model, torch.zeros(2, 3), method="decode")


def test_a_failed_probe_says_it_was_the_probe():
    model = cv.wrap(ExamplesVAE())
    with pytest.raises(NotAVAEError, match=r"probe pass .* failed: encode of a batch of shape "
                                           r"\(2, 10\) \(from the first input batch\)"):
        cv.ces(model, torch.zeros(5, 10))
    assert model.input_shape is None  # nothing learnt from the failed batch
    with pytest.raises(NotAVAEError, match=r"probe pass .* shape \(2, 9\) \(from input_shape=\)"):
        cv.wrap(ExamplesVAE(), input_shape=(9,))


def test_later_batches_must_match_the_first():
    model = cv.wrap(ExamplesVAE())
    cv.ces(model, torch.randn(4, 16, generator=torch.Generator().manual_seed(0)), n=None)
    with pytest.raises(cv.CircuitVAEError, match=r"expects \(N, 16\)"):
        cv.ces(model, torch.zeros(4, 12), n=None)


# --------------------------------------------------------------------------- return formats


class DictVAE(nn.Module):
    """encode returns a dict under the given keys (the spread as the given kind)."""

    def __init__(self, mean_key="mu", spread_key="logvar", kind="logvar", extra=None):
        super().__init__()
        torch.manual_seed(2)
        self.net, self.out = nn.Linear(4, 4), nn.Linear(2, 4)
        self.mean_key, self.spread_key, self.kind, self.extra = mean_key, spread_key, kind, extra

    def raw(self, x):
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x):
        mu, logvar = self.raw(x)
        spread = {"logvar": logvar, "log_std": 0.5 * logvar, "std": (0.5 * logvar).exp(),
                  "var": logvar.exp()}[self.kind]
        out = {self.mean_key: mu, self.spread_key: spread}
        if self.extra:
            out[self.extra] = mu
        return out

    def decode(self, z):
        return torch.sigmoid(self.out(z))


@pytest.mark.parametrize("mean_key", ["mu", "mean", "loc", "z_mu", "z_mean"])
@pytest.mark.parametrize("spread_key, kind", [
    ("logvar", "logvar"), ("log_var", "logvar"), ("z_log_var", "logvar"),
    ("log_std", "log_std"), ("std", "std"), ("scale", "std"), ("var", "var"),
])
def test_dict_posteriors_are_converted_to_the_log_variance(mean_key, spread_key, kind):
    net = DictVAE(mean_key, spread_key, kind)
    x = torch.randn(5, 4)
    post = cv.wrap(net).encode(x)
    mu, logvar = net.raw(x)
    torch.testing.assert_close(post.mean, mu)
    torch.testing.assert_close(post.logvar, logvar, rtol=1e-5, atol=1e-5)


def test_a_sample_key_beside_the_posterior_is_allowed():
    post = cv.wrap(DictVAE(extra="z")).encode(torch.randn(3, 4))
    assert post.logvar is not None


def test_an_unknown_key_is_an_error_not_a_silent_drop():
    with pytest.raises(NotAVAEError, match=r"\['log_sd'\] cannot be read"):
        cv.wrap(DictVAE(spread_key="log_sd")).encode(torch.randn(3, 4))
    with pytest.raises(NotAVAEError, match=r"none is a mean"):
        cv.wrap(DictVAE(mean_key="centre")).encode(torch.randn(3, 4))


class LogitsVAE(DictVAE):
    def decode(self, z):
        return {"logits": self.out(z)}


def test_decoder_logits_need_a_declared_likelihood():
    z = torch.randn(3, 2)
    with pytest.raises(NotAVAEError, match="output='logits'"):
        cv.wrap(LogitsVAE()).decode(z)
    net = LogitsVAE()
    probs = cv.wrap(net, output="logits").decode(z)
    torch.testing.assert_close(probs, torch.sigmoid(net.out(z)))
    assert ((probs > 0) & (probs < 1)).all()
    torch.testing.assert_close(cv.wrap(net, output="raw").decode(z), net.out(z))
    with pytest.raises(NotAVAEError, match="output must be one of"):
        cv.wrap(net, output="probabilities")


class ProbsVAE(DictVAE):
    def decode(self, z):
        return {"probs": torch.sigmoid(self.out(z))}


def test_output_logits_never_squashes_probabilities_twice():
    with pytest.raises(NotAVAEError, match="output='logits' needs a logits key"):
        cv.wrap(ProbsVAE(), output="logits").decode(torch.randn(2, 2))


def test_output_logits_needs_a_bernoulli_distribution():
    class NormalOut(DictVAE):
        def decode(self, z):
            return torch.distributions.Normal(self.out(z), 1.0)

    with pytest.raises(NotAVAEError, match="output='logits' declares a Bernoulli decoder"):
        cv.wrap(NormalOut(), output="logits").decode(torch.randn(2, 2))
