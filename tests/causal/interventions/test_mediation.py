"""Causal mediation: the linear additivity identity and layer saturation."""

import numpy as np
import pytest

import circuitvae as cv


def test_nie_plus_nde_equals_te_on_a_linear_model(linear_vae):
    import torch

    gen = torch.Generator().manual_seed(2)
    xb, xs = torch.randn(8, 5, generator=gen), torch.randn(8, 5, generator=gen)
    res = cv.mediate(linear_vae, xb, xs, mediator="decoder.0", units=[0, 2, 3])
    np.testing.assert_allclose(res.nie + res.nde, res.te, atol=1e-5)
    assert res.proportion > 0 and res.nde_norm > 0  # |NIE|/|TE| may exceed 1 (cancellation)
    norms = np.linalg.norm(res.nie, axis=1).mean() / np.linalg.norm(res.te, axis=1).mean()
    assert res.proportion == pytest.approx(norms, rel=1e-6)
    # outcome mu through an encoder unit subset: additive too
    enc = cv.mediate(linear_vae, xb, xs, mediator="encoder.0", units=[1, 4], outcome="mean")
    np.testing.assert_allclose(enc.nie + enc.nde, enc.te, atol=1e-5)


def test_mediation_effects_match_direct_runs(mlp, xpair):
    xb, xs = xpair
    res = cv.mediate(mlp, xb, xs, mediator="decoder.1", units=[2, 5], max_batch_rows=4)
    y = lambda x: cv.run(mlp, x).output.numpy()  # noqa: E731
    np.testing.assert_allclose(res.te, y(xs) - y(xb), atol=1e-6)
    m_s = cv.run(mlp, xs, capture=["decoder.1"]).cache["decoder.1"]
    patched = cv.run(mlp, xb, patches={"decoder.1": cv.Patch(m_s, [2, 5])}).output.numpy()
    np.testing.assert_allclose(res.nie, patched - y(xb), atol=1e-6)


def test_whole_layers_saturate_and_are_reported(mlp, xpair):
    xb, xs = xpair
    rep = cv.mediation_by_layer(mlp, xb, xs)
    # every hidden layer once: the ReLU outputs, not also the Linear outputs before them
    assert rep.sites == ("encoder.1", "encoder.3", "decoder.1", "decoder.3")
    np.testing.assert_allclose(rep.proportions, 1.0, atol=1e-5)
    assert rep.saturated and rep.whole_layers
    assert "cannot rank" in rep.message and "unit subsets" in rep.message


def test_unit_subsets_are_not_saturated(mlp, xpair):
    xb, xs = xpair
    rep = cv.mediation_by_layer(
        mlp, xb, xs, sites=["decoder.0", "decoder.2"], units={"decoder.0": [0], "decoder.2": [1]}
    )
    assert not rep.saturated and not rep.whole_layers
    assert np.all(rep.proportions < 0.99)
