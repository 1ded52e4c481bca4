"""The Bayesian attention VAE: per-head sites, MC dropout, heteroscedastic decoder, warm-up."""

from __future__ import annotations

import math

import pytest
import torch

import circuitvae as cv
from circuitvae.anomaly import anomaly_scores, dropout_modules
from circuitvae.protocol import CircuitVAEError
from circuitvae.zoo import build, load, save, train

CONV = {"conv_channels": (4, 4, 8, 8), "fc_hidden": 16, "latent_dim": 3, "warmup_epochs": 3}
MLP = {"hidden": (32, 16), "latent_dim": 3, "tokens": 2, "heads": 2, "warmup_epochs": 3}


def _conv(**kw):
    return build("bayes_attention_vae", input_shape=(1, 32, 32), seed=0, **{**CONV, **kw})


def test_every_attention_head_is_a_site_and_patching_a_head_acts():
    model = _conv().eval()
    heads = [s for s in cv.site_table(model) if ".head." in s.name]
    assert [s.name.rsplit(".head.", 1)[1] for s in heads] == ["0", "1", "2", "3"] * 2
    assert heads[0].shape == (4, 2)  # 2 x 2 positions, 8 channels / 4 heads
    x = torch.rand(6, 1, 32, 32)
    clean = model(x)
    cache = cv.run(model, x, capture=[heads[0].name]).cache
    with cv.patching(model, {heads[0].name: cache[heads[0].name]}):
        torch.testing.assert_close(model(x), clean)  # its own value: nothing changes
    with cv.patching(model, {heads[0].name: torch.zeros_like(cache[heads[0].name])}):
        assert (model(x) - clean).abs().max() > 0
    assert not [s for s in cv.site_table(_conv(attention=False)) if ".head." in s.name]


def test_tabular_rows_are_attended_as_tokens():
    model = build("bayes_attention_vae", input_shape=(6,), seed=0, **MLP).eval()
    heads = [s for s in cv.site_table(model) if ".head." in s.name]
    assert len(heads) == 4 and heads[0].shape == (2, 4)  # 2 tokens of 8, 2 heads
    assert model(torch.randn(5, 6)).shape == (5, 6)


def test_heteroscedastic_loss_is_the_gaussian_nll():
    model = _conv().train()
    x = torch.rand(4, 1, 32, 32)
    mean, logvar = torch.full_like(x, 0.5), torch.full_like(x, math.log(0.25))
    expected = 0.5 * ((x - 0.5) ** 2 / 0.25 + math.log(0.25)).flatten(1).sum(1).mean()
    torch.testing.assert_close(model.gaussian_nll(mean, logvar, x), expected)
    lv = model.decode_logvar(torch.zeros(2, 3))
    assert lv.shape == (2, 1, 32, 32) and lv.abs().max() < 6.0


def test_mc_dropout_gives_epistemic_and_the_decoder_aleatoric_uncertainty():
    model = _conv().eval()
    assert len(dropout_modules(model)) > 0
    x = torch.rand(5, 1, 32, 32)
    s = anomaly_scores(model, x, score="normalized", mc_passes=8, seed=0)
    assert (s.epistemic > 0).all() and (s.aleatoric > 0).all()
    one = anomaly_scores(model, x, mc_passes=1)
    assert (one.epistemic == 0).all()
    assert not model.training and all(not m.training for m in dropout_modules(model))


def test_beta_warms_up_linearly_and_warm_up_epochs_are_not_the_best(tmp_path):
    x = torch.rand(64, 1, 32, 32)
    model = train(_conv(beta=2.0), x, max_epochs=5, patience=100, verbose=False, seed=0)
    assert [h["beta"] for h in model.history] == pytest.approx([2 / 3, 4 / 3, 2.0, 2.0, 2.0])
    assert int(model.epochs_done) >= 3
    back = load(save(model, tmp_path / "m"))
    assert float(back.beta_now) == pytest.approx(2.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"dropout": 1.0}, "dropout must be in"),
    ({"heads": 3}, "must split into 3 heads"),
])
def test_bad_configs_are_named(kwargs, match):
    with pytest.raises(CircuitVAEError, match=match):
        _conv(**kwargs)


def test_categorical_blocks_keep_their_cross_entropy():
    feats = [cv.Feature("a", "numeric", (0,)), cv.Feature("c", "categorical", (1, 2))]
    model = build("bayes_attention_vae", input_shape=(3,), features=feats, seed=0, **MLP)
    x = torch.tensor([[0.5, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    logits = torch.tensor([[0.2, 2.0, 0.0], [0.1, 0.0, 1.0]])
    logvar = torch.tensor([[0.3, 9.0, 9.0], [-0.2, 9.0, 9.0]])  # categorical variance unused
    ce = -torch.log_softmax(logits[:, 1:], 1)[x[:, 1:].bool()]
    gauss = 0.5 * ((x[:, 0] - logits[:, 0]) ** 2 * torch.exp(-logvar[:, 0]) + logvar[:, 0])
    torch.testing.assert_close(model.heteroscedastic_nll(logits, logvar, x),
                               (ce + gauss).mean())
