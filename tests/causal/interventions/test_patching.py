"""Activation patching and path patching: exact identities and batching."""

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.hooks import Patch


def test_patch_nothing_is_a_no_op(mlp, xpair):
    xb, xs = xpair
    res = cv.patch(mlp, xb, xs, site="decoder.1", units=[])
    np.testing.assert_array_equal(res.patched_output, res.base_output)
    assert res.effect == 0.0


@pytest.mark.parametrize("site", ["encoder.0", "encoder.3", "hook_z", "decoder.0", "decoder.3"])
def test_whole_site_patch_reproduces_source(mlp, xpair, site):
    xb, xs = xpair
    res = cv.patch(mlp, xb, xs, site=site)
    np.testing.assert_allclose(res.patched_output, res.source_output, atol=1e-6)
    assert res.outcome == ("mean" if site.startswith("encoder") else "output")
    assert res.effect > 0


def test_source_equal_base_gives_no_change(mlp, xpair):
    xb, _ = xpair
    res = cv.patch(mlp, xb, xb.clone(), site="decoder.2", units=[0, 3])
    np.testing.assert_array_equal(res.patched_output, res.base_output)


def test_unit_patch_matches_manual_hook_and_effect_is_mean_norm(mlp, xpair):
    xb, xs = xpair
    res = cv.patch(mlp, xb, xs, site="decoder.1", units=[1, 4])
    src = cv.run(mlp, xs, capture=["decoder.1"]).cache["decoder.1"]
    manual = cv.run(mlp, xb, patches={"decoder.1": Patch(src, [1, 4])}).output.numpy()
    np.testing.assert_array_equal(res.patched_output, manual)
    norms = np.linalg.norm(manual - res.base_output, axis=1)
    assert res.effect == pytest.approx(norms.mean(), rel=1e-6)


def test_patch_batched_equals_per_pair_loop_and_chunking(mlp, xpair):
    xb, xs = xpair
    full = cv.patch(mlp, xb, xs, site="encoder.1", units=[0, 2, 5])
    tiny = cv.patch(mlp, xb, xs, site="encoder.1", units=[0, 2, 5], max_batch_rows=3)
    np.testing.assert_allclose(full.patched_output, tiny.patched_output, atol=1e-6)
    for i in range(len(xb)):
        one = cv.patch(mlp, xb[i:i + 1], xs[i:i + 1], site="encoder.1", units=[0, 2, 5])
        np.testing.assert_allclose(one.patched_output[0], full.patched_output[i], atol=1e-6)


def test_conv_channel_patch(conv_vae):
    model = conv_vae
    gen = torch.Generator().manual_seed(0)
    xb, xs = torch.rand(4, 1, 4, 4, generator=gen), torch.rand(4, 1, 4, 4, generator=gen)
    res = cv.patch(model, xb, xs, site="conv.0", units=[1])
    src = cv.run(model, xs, capture=["conv.0"]).cache["conv.0"]
    base = cv.run(model, xb, capture=["conv.0"]).cache["conv.0"]
    expect = base.clone()
    expect[:, 1] = src[:, 1]
    manual = cv.run(model, xb, method="encode", patches={"conv.0": expect}).output.mean
    np.testing.assert_allclose(res.patched_output, manual.numpy(), atol=1e-6)


def test_path_patch_telescopes_and_whole_layers_give_source(mlp, xpair):
    xb, xs = xpair
    path = {"decoder.2": None, "encoder.0": None, "hook_z": None}
    res = cv.path_patch(mlp, xb, xs, path)
    assert res.sites == ("encoder.0", "hook_z", "decoder.2")  # forward order
    np.testing.assert_allclose(res.contributions.sum(0), res.total, atol=1e-12)
    src = cv.run(mlp, xs).output.numpy()
    np.testing.assert_allclose(res.outputs[-1], src, atol=1e-6)
    assert res.shares.sum() == pytest.approx(1.0, abs=1e-9)
    # the first whole layer already carries everything downstream
    assert res.shares[0] == pytest.approx(1.0, abs=1e-5)


def test_path_patch_cumulative_runs_match_direct_patching(mlp, xpair):
    xb, xs = xpair
    path = {"encoder.1": [0, 1, 2], "decoder.0": [3, 4], "decoder.3": [5]}
    res = cv.path_patch(mlp, xb, xs, path, max_batch_rows=7)
    cache = cv.run(mlp, xs, capture=list(path)).cache
    names = list(path)
    for level in range(len(names) + 1):
        patches = {n: Patch(cache[n], path[n]) for n in names[:level]}
        y = cv.run(mlp, xb, patches=patches).output.double().numpy()
        np.testing.assert_allclose(res.outputs[level], y, atol=1e-6)
    np.testing.assert_allclose(res.contributions.sum(0), res.total, atol=1e-12)
    unbatched = cv.path_patch(mlp, xb, xs, path)
    np.testing.assert_allclose(unbatched.outputs, res.outputs, atol=1e-6)


def test_path_patch_encoder_only_uses_mu(mlp, xpair):
    xb, xs = xpair
    res = cv.path_patch(mlp, xb, xs, {"encoder.0": None, "encoder.2": [0]})
    assert res.outcome == "mean"
    assert res.total.shape == (len(xb), mlp.latent_dim)


def test_bad_patch_inputs(mlp, xpair):
    xb, xs = xpair
    with pytest.raises(cv.CircuitVAEError, match="same shape"):
        cv.patch(mlp, xb, xs[:3], site="decoder.0")
    with pytest.raises(cv.CircuitVAEError, match="unknown site"):
        cv.patch(mlp, xb, xs, site="nope")
    with pytest.raises(cv.CircuitVAEError, match="out of range"):
        cv.path_patch(mlp, xb, xs, {"decoder.0": [99]})
    with pytest.raises(cv.CircuitVAEError, match="NaN"):
        cv.patch(mlp, xb.clone().fill_(float("nan")), xs, site="decoder.0")
