"""Zoo architectures: protocol, sites, output space, determinism, configs, build."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.protocol import CircuitVAEError, DiscretePosterior, Posterior, Split
from circuitvae.zoo import ARCHITECTURES, VQVAE, BetaVAE, BetaVAEConfig, build

ARCHS = ("vae", "beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_ii", "vq_vae", "vae_sae",
         "bayes_attention_vae")


def test_registry_lists_the_architectures():
    assert tuple(ARCHITECTURES) == ARCHS
    with pytest.raises(CircuitVAEError, match="unknown architecture 'gan'"):
        build("gan", input_shape=(3,))


#: the architectures on the plain backbone layout (the Bayesian attention VAE adds dropout and
#: attention layers and a doubled output: tests/zoo/test_attention_vae.py)
PLAIN_LAYOUT = tuple(a for a in ARCHS if a != "bayes_attention_vae")


@pytest.mark.parametrize("name", PLAIN_LAYOUT)
def test_mlp_sites_shapes_and_output_space(name, tiny, features, tabular):
    model = build(name, input_shape=(6,), features=features, seed=0, **tiny(name)).eval()
    assert model.speaks_circuitvae and model.input_shape == (6,)
    table = {s.name: s for s in cv.site_table(model)}
    for site in ("encoder.0", "encoder.1", "encoder.2", "encoder.3"):
        assert table[site].part == "encoder"
    for site in ("decoder.0", "decoder.1", "decoder.2", "decoder.3", "decoder.4", "output"):
        assert table[site].part == "decoder"
    assert table["encoder.1"].shape == (32,) and table["decoder.4"].shape == (6,)
    latent = {"hook_mu", "hook_z"} | ({"quantizer"} if name == "vq_vae" else {"hook_logvar"})
    assert latent <= {s for s, v in table.items() if v.part == "latent"}
    assert "discriminator.0" not in table
    post = model.encode(tabular[:5])
    assert isinstance(post, Posterior) and post.mean.shape == (5, model.latent_dim)
    out = model.decode(post.mean)
    assert out.shape == tabular[:5].shape
    torch.testing.assert_close(out[:, 2:5].sum(1), torch.ones(5))
    assert (out[:, 2:5] > 0).all()
    # numeric columns are the decoder's logits unchanged
    with cv.capture(model, ["decoder.4"]) as cache:
        cv.reconstruct(model, tabular[:5])
    torch.testing.assert_close(out[:, [0, 1, 5]], cache["decoder.4"][:, [0, 1, 5]])


@pytest.mark.parametrize("name", ["vae", "vq_vae"])
def test_conv_sites_and_shapes(name, tiny, images):
    model = build(name, input_shape=(1, 64, 64), seed=0, **tiny(name, "conv")).eval()
    table = {s.name: s for s in cv.site_table(model)}
    assert table["encoder.0"].shape == (4, 32, 32) and table["encoder.0"].part == "encoder"
    assert table["encoder.7"].shape == (8, 4, 4)
    assert table["encoder.10"].shape == (16,)
    assert table["hook_mu"].part == "latent" and table["hook_z"].part == "latent"
    assert table["decoder.4"].shape == (8, 4, 4)
    assert table["decoder.11"].shape == (1, 64, 64) and table["output"].part == "decoder"
    out = cv.reconstruct(model, images)
    assert out.shape == images.shape
    assert (out >= 0).all() and (out <= 1).all()
    torch.testing.assert_close(out, torch.sigmoid(model.decode_logits(model.encode(images).mean)))


def test_conv_backbone_rejects_bad_image_sizes():
    with pytest.raises(CircuitVAEError, match="divisible by 16"):
        build("vae", input_shape=(1, 60, 64))
    with pytest.raises(CircuitVAEError, match="mlp backbone needs 1-D"):
        build("vae", input_shape=(1, 64, 64), backbone="mlp")


@pytest.mark.parametrize("name", ARCHS)
def test_forward_deterministic_in_eval_and_seeded_in_train(name, tiny, tabular):
    model = build(name, input_shape=(6,), seed=0, **tiny(name)).eval()
    x = tabular[:8]
    a, b = model(x), model(x)
    assert torch.equal(a, b)
    assert torch.equal(a, model.decode(model.encode(x).mean))
    model.train()
    s1 = model(x, torch.Generator().manual_seed(3))
    s2 = model(x, torch.Generator().manual_seed(3))
    assert torch.equal(s1, s2)
    if name != "vq_vae":
        assert not torch.equal(s1, a)


def test_vq_vae_encode_is_discrete_and_decode_quantizes(tiny, tabular):
    model = build("vq_vae", input_shape=(6,), seed=0, **tiny("vq_vae")).eval()
    assert isinstance(model, VQVAE) and model.latent_dim == 3 * 2
    post = model.encode(tabular[:10])
    assert isinstance(post, DiscretePosterior) and post.logvar is None
    assert post.codes.shape == (10, 3) and post.codebook.shape == (16, 2)
    # codes are the nearest entries, by brute force
    ze = post.mean.reshape(10, 3, 2)
    for i in range(10):
        for p in range(3):
            d = ((post.codebook - ze[i, p]) ** 2).sum(1)
            assert int(post.codes[i, p]) == int(d.argmin())
    assert torch.equal(model.decode(post.mean), model.decode(post.quantized))
    with cv.capture(model, ["quantizer"]) as cache:
        model.decode(post.mean)
    assert torch.equal(cache["quantizer"], post.quantized)


def test_vq_vae_latent_dim_must_match_positions():
    with pytest.raises(CircuitVAEError, match="num_positions \\* embedding_dim = 80"):
        build("vq_vae", input_shape=(6,), latent_dim=10)


@pytest.mark.parametrize("arch, kwargs, match", [
    ("vae", {"latent_dim": True}, "latent_dim must be an integer >= 1"),
    ("vae", {"latent_dim": 0}, "latent_dim must be an integer >= 1"),
    ("vae", {"latent_dim": 2.5}, "latent_dim must be an integer >= 1"),
    ("vq_vae", {"num_positions": "ten"}, "num_positions must be an integer >= 1"),
    ("vq_vae", {"embedding_dim": 2.5}, "embedding_dim must be an integer >= 1"),
    ("vq_vae", {"num_codes": 0}, "num_codes must be an integer >= 1"),
])
def test_config_integer_fields_are_checked(arch, kwargs, match):
    with pytest.raises(CircuitVAEError, match=match):
        build(arch, input_shape=(6,), **kwargs)


def test_config_accepts_numpy_integers():
    cfg = BetaVAEConfig(input_shape=(6,), latent_dim=np.int64(4))
    assert cfg.latent_dim == 4 and type(cfg.latent_dim) is int


def test_config_round_trips_and_validates_features(features):
    cfg = BetaVAEConfig(input_shape=(6,), features=features)
    assert cfg.beta == 4.0 and cfg.latent_dim == 10 and cfg.backbone == "mlp"
    assert cfg.likelihood == "mixed" and cfg.feature_list() == features
    assert BetaVAEConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(CircuitVAEError, match="do not cover the columns"):
        BetaVAEConfig(input_shape=(7,), features=features)
    with pytest.raises(CircuitVAEError, match="numeric feature 'x' must own exactly one"):
        BetaVAEConfig(input_shape=(2,), features=[cv.Feature("x", "numeric", (0, 1))])
    with pytest.raises(CircuitVAEError, match="has no field"):
        BetaVAEConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    image = BetaVAEConfig(input_shape=(1, 64, 64))
    assert image.backbone == "conv" and image.likelihood == "bernoulli"


def test_build_from_dataset_and_seeded_init(features, tabular):
    class DS:
        name = "toy"
        train = Split(tabular)
        test = Split(tabular[:10])

    DS.features = features
    model = build("beta_vae", dataset=DS(), seed=7, hidden=(8, 4))
    assert isinstance(model, BetaVAE) and model.input_shape == (6,)
    assert model.config.feature_list() == features
    twin = build("beta_vae", dataset=Split(tabular), features=features, seed=7, hidden=(8, 4))
    for (k, v), w in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    state = torch.random.get_rng_state()
    build("vae", input_shape=(3,), seed=1)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    with pytest.raises(CircuitVAEError, match="needs input_shape or a dataset"):
        build("vae")
