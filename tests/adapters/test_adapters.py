"""cv.wrap on models written in the style of each ecosystem."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

import circuitvae as cv


def _mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, n_out))


class TupleVAE(nn.Module):
    """The tutorial VAE: encode returns (mu, logvar)."""

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 2
        self.encoder, self.decoder = _mlp(4, 4), _mlp(2, 4)

    def encode(self, x):
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, z):
        return torch.sigmoid(self.decoder(z))

    def forward(self, x):  # stochastic, as most user VAEs are; the engine never calls it
        mu, logvar = self.encode(x)
        return self.decode(mu + torch.randn_like(mu) * (0.5 * logvar).exp())


class DistributionVAE(TupleVAE):
    """encode returns a torch.distributions object; decode a Bernoulli."""

    def encode(self, x):
        mu, logvar = super().encode(x)
        normal = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        return torch.distributions.Independent(normal, 1)

    def decode(self, z):
        return torch.distributions.Bernoulli(logits=self.decoder(z))


class DictVAE(TupleVAE):
    def encode(self, x):
        mu, logvar = super().encode(x)
        return {"mu": mu, "log_var": logvar}

    def decode(self, z):
        return {"x_hat": torch.sigmoid(self.decoder(z))}


@pytest.mark.parametrize("cls", [TupleVAE, DistributionVAE, DictVAE])
def test_wrap_module_reads_every_return_shape(cls):
    torch.manual_seed(0)
    user = cls()
    model = cv.wrap(user, input_shape=(4,))
    x = torch.randn(3, 4)
    mu, logvar = TupleVAE.encode(user, x)
    post = model.encode(x)
    torch.testing.assert_close(post.mean, mu)
    torch.testing.assert_close(post.logvar, logvar, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cv.reconstruct(model, x), torch.sigmoid(user.decoder(mu)))
    assert model.latent_dim == 2
    assert {"encoder.0", "hook_mu", "hook_z", "decoder.2"} <= set(cv.sites(model))
    assert cv.wrap(model) is model  # wrapping twice is a no-op


def test_wrap_reads_std_when_told():
    class StdVAE(TupleVAE):
        def encode(self, x):
            mu, logvar = super().encode(x)
            return mu, (0.5 * logvar).exp()

    torch.manual_seed(0)
    user = StdVAE()
    x = torch.randn(3, 4)
    expected = TupleVAE.encode(user, x)[1]
    got = cv.wrap(user, scale="std", input_shape=(4,)).encode(x).logvar
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_wrap_functions_for_anything_else():
    torch.manual_seed(0)
    enc, dec = _mlp(4, 4), _mlp(2, 4)
    holder = nn.ModuleDict({"enc": enc, "dec": dec})
    model = cv.wrap(encode=lambda x: tuple(enc(x).chunk(2, 1)), decode=dec, module=holder,
                    input_shape=(4,))
    assert model.latent_dim == 2  # inferred by one encode of zeros
    x = torch.randn(2, 4)
    with cv.capture(model, ["enc.0", "dec.2"]) as cache:
        out = cv.reconstruct(model, x)
    torch.testing.assert_close(out, cache["dec.2"])
    with pytest.raises(cv.NotAVAEError, match="needs module=m"):
        cv.wrap(encode=enc, decode=dec)
    with pytest.raises(cv.NotAVAEError, match="missing decode="):
        cv.wrap(encode=enc, module=holder)


class PythaeStyleEncoder(nn.Module):
    """pythae's BaseEncoder returns a ModelOutput (an OrderedDict) with embedding/log_covariance."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = _mlp(4, 4)

    def forward(self, x):
        mu, log_cov = self.layers(x).chunk(2, dim=1)
        return OrderedDict(embedding=mu, log_covariance=log_cov)


class PythaeStyleDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = _mlp(2, 4)

    def forward(self, z):
        return OrderedDict(reconstruction=torch.sigmoid(self.layers(z)))


class PythaeStyleModel(nn.Module):
    """Written like pythae's VAE: a config, injectable encoder/decoder, forward(dict) -> loss."""

    def __init__(self) -> None:
        super().__init__()
        self.model_config = type("VAEConfig", (), {"latent_dim": 2, "input_dim": (4,)})()
        self.model_name = "VAE"
        self.encoder, self.decoder = PythaeStyleEncoder(), PythaeStyleDecoder()

    def forward(self, inputs):  # pythae computes the loss and samples in forward
        out = self.encoder(inputs["data"])
        z = out["embedding"] + torch.randn_like(out["embedding"])
        return {"loss": self.decoder(z)["reconstruction"].sum()}


def test_wrap_pythae_style_model():
    torch.manual_seed(0)
    user = PythaeStyleModel()
    model = cv.wrap(user)
    assert model.latent_dim == 2 and model.input_shape == (4,)
    x = torch.randn(3, 4)
    expected = user.decoder(user.encoder(x)["embedding"])["reconstruction"]
    torch.testing.assert_close(cv.reconstruct(model, x), expected)
    assert "encoder.layers.0" in cv.sites(model)
    torch.testing.assert_close(model.encode(x).logvar, user.encoder(x)["log_covariance"])


def test_wrap_nnsight_model():
    nnsight = pytest.importorskip("nnsight")
    torch.manual_seed(0)
    user = TupleVAE()
    traced = nnsight.NNsight(user)
    model = cv.wrap(traced, input_shape=(4,))
    assert model.backend == "nnsight" and model.model is user
    x, source = torch.randn(3, 4), torch.randn(3, 4)
    src = cv.run(model, source, capture=["decoder.0"])
    out = cv.run(model, x, patches={"decoder.0": src.cache["decoder.0"]}).output
    torch.testing.assert_close(out, src.output)
    torch.testing.assert_close(out, cv.run(model, source, backend="torch").output)


def test_multi_invoke_trace_patches_clean_into_corrupt_in_one_pass():
    pytest.importorskip("nnsight")
    from circuitvae.backends.nnsight import VAENNsight

    torch.manual_seed(0)
    user = TupleVAE()
    traced = VAENNsight(user.encoder)
    clean, corrupt = torch.randn(2, 4), torch.randn(2, 4)
    with traced.trace() as tracer:
        barrier = tracer.barrier(2)
        with tracer.invoke(clean):
            h = traced[0].output
            barrier()
        with tracer.invoke(corrupt):
            barrier()
            traced[0].output = h
            patched = traced.output.save()
    torch.testing.assert_close(patched, user.encoder(clean))


def test_unadaptable_models_say_what_is_missing():
    with pytest.raises(cv.NotAVAEError, match=r"Linear has no encode\(\) or decode\(\) method"):
        cv.wrap(nn.Linear(2, 2))
    with pytest.raises(cv.NotAVAEError, match="not an nn.Module"):
        cv.wrap(object())

    class NoLatent(nn.Module):
        def encode(self, x):
            return x, x

        def decode(self, z):
            return z

    # no latent_dim and no input_shape: no longer an error, found on the first batch
    lazy = cv.wrap(NoLatent())
    assert lazy.latent_dim is None
    cv.run(lazy, torch.zeros(2, 3))
    assert lazy.latent_dim == 3 and lazy.input_shape == (3,)
    with pytest.raises(cv.NotAVAEError, match="returned a 3-tuple"):
        bad = cv.wrap(encode=lambda x: (x, x, x), decode=lambda z: z, module=nn.Linear(1, 1),
                      latent_dim=1)
        bad.encode(torch.zeros(1, 1))
