"""diffusers' AutoencoderKL wraps with cv.wrap(vae) alone; its spatial latent sweeps per channel.

A tiny randomly initialised AutoencoderKL (no weights are downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.interventions.latent import latent_unit_groups

diffusers = pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return diffusers.AutoencoderKL(
        in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1, norm_num_groups=4, sample_size=16).eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(10, 1, 16, 16, generator=torch.Generator().manual_seed(1))


def test_wraps_with_no_arguments(vae, images):
    model = cv.wrap(vae)
    assert model.input_shape == (1, 16, 16) and model.latent_dim == 4 * 8 * 8
    assert model.latent_shape == (4, 8, 8) and model.latent_units == "channel"
    post = cv.run(model, images, method="encode").output
    dist = vae.encode(images).latent_dist
    torch.testing.assert_close(post.mean, dist.mean.flatten(1))
    torch.testing.assert_close(post.logvar, dist.logvar.flatten(1))
    out = cv.reconstruct(model, images).detach()
    torch.testing.assert_close(out, vae.decode(dist.mean).sample.detach())
    names = cv.sites(model)
    assert "encoder.conv_in" in names and "decoder.conv_out" in names and "hook_z" in names


def test_channel_ces_moves_every_position_of_a_channel_by_its_own_scale(vae, images):
    model = cv.wrap(vae)
    res = cv.ces(model, images, n=None, k=3)
    assert res.per_latent.shape == (4,)
    with torch.no_grad():
        mu = vae.encode(images).latent_dist.mean  # (N, 4, 8, 8)
        sigma = mu.flatten(1).double().std(0, unbiased=False).reshape(1, 4, 8, 8).float()
        base = vae.decode(mu).sample
        expected = []
        for c in range(4):
            effects = []
            for delta in 3.0 * np.linspace(-1, 1, 3):
                z = mu.clone()
                z[:, c] += float(delta) * sigma[0, c]
                diff = vae.decode(z).sample - base
                effects.append(diff.flatten(1).pow(2).mean(1).sqrt().mean().item())
            expected.append(np.mean(effects))
    np.testing.assert_allclose(res.per_latent, expected, rtol=1e-4, atol=1e-7)
    assert res.value == pytest.approx(np.mean(expected), rel=1e-4)


def test_element_units_on_request(vae, images):
    per_element = cv.ces(cv.wrap(vae), images, n=None, k=3, latent_units="element")
    assert per_element.per_latent.shape == (256,)
    wrapped = cv.wrap(vae, latent_units="element")
    same = cv.ces(wrapped, images, n=None, k=3)
    np.testing.assert_allclose(same.per_latent, per_element.per_latent, rtol=1e-6)
    assert cv.specificity(wrapped, images, n=None, k=3).per_latent.shape == (256,)
    assert cv.specificity(cv.wrap(vae), images, n=None, k=3).per_latent.shape == (4,)


def test_patch_mediate_path_patch_attribution_and_analyze_run(vae, images):
    model = cv.wrap(vae)
    base, source = images[:5], images[5:]
    whole = cv.patch(model, base, source, site="decoder.conv_in")
    np.testing.assert_allclose(whole.patched_output, whole.source_output, atol=1e-5)
    med = cv.mediate(model, base, source, mediator="decoder.conv_in")
    assert med.proportion == pytest.approx(1.0, abs=1e-5)  # a whole layer is a cut
    pp = cv.path_patch(model, base, source, {"encoder.conv_in": [0, 1], "decoder.conv_in": None})
    np.testing.assert_allclose(pp.contributions.sum(0), pp.total, atol=1e-5)
    atp = cv.attribution_patch(model, base, source, sites=["decoder.conv_in"], check=3)
    assert atp.scores["decoder.conv_in"].shape == (16,)
    row = cv.analyze(model, images, n=10, k=3, metrics="interventional").iloc[0]
    assert np.isfinite(row.ces_calibrated) and np.isfinite(row.mse)
    assert row.ces_calibrated == pytest.approx(cv.ces(model, images, n=10, k=3).value)


def test_latent_units_errors(vae, mlp_model):
    with pytest.raises(cv.CircuitVAEError, match="latent_units must be 'channel' or 'element'"):
        cv.wrap(vae, latent_units="pixel")
    with pytest.raises(cv.CircuitVAEError, match="latent_units applies to spatial latents"):
        cv.wrap(mlp_model, latent_units="channel")
    flat = cv.wrap(mlp_model)
    x = torch.randn(8, 6)
    with pytest.raises(cv.CircuitVAEError, match="needs a spatial latent"):
        cv.ces(flat, x, latent_units="channel")
    with pytest.raises(cv.CircuitVAEError, match="latent_units must be one of"):
        cv.ces(flat, x, latent_units="rows")


def test_unit_groups_are_channel_major():
    class Spatial:
        latent_shape = (3, 2, 2)

    groups = latent_unit_groups(Spatial(), 12, "channel")
    assert [g.tolist() for g in groups] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert latent_unit_groups(Spatial(), 12, "element") is None
    assert latent_unit_groups(Spatial(), 12, "auto") is None  # the model declares no units
    with pytest.raises(cv.CircuitVAEError, match="holds 12 values"):
        latent_unit_groups(Spatial(), 10, "channel")


@pytest.fixture
def mlp_model():
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = torch.nn.Linear(6, 4), torch.nn.Linear(2, 6)

        def encode(self, x):
            return self.enc(x).chunk(2, dim=1)

        def decode(self, z):
            return self.dec(z)

    return Plain().eval()


def test_latent_level_modularity_names_the_channels(vae, images):
    from circuitvae.interventions.latent import latent_sweep_unchecked

    model = cv.wrap(vae)
    res = cv.modularity(model, images, level="latent", n=10, k=3)
    assert res.groups == ("unit0", "unit1", "unit2", "unit3")
    mu = torch.zeros(2, 256)
    with pytest.raises(cv.CircuitVAEError, match="do not apply"):
        latent_sweep_unchecked(model, mu, np.zeros((4, 3)), units=[np.arange(64)] * 4,
                               absolute=True)
