"""Latent perturbation: sigma_eff, grids, and the batched sweep against a per-intervention loop."""

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.interventions import latent_sweep, offset_grid, sigma_eff, traversal


def _mu_logvar(model, x):
    post = cv.run(model, x, method="encode").output
    return post.mean.double().numpy(), post.logvar.double().numpy()


def test_sigma_eff_scales(mlp, xpair):
    x = xpair[0]
    mu, logvar = _mu_logvar(mlp, x)
    np.testing.assert_allclose(sigma_eff(mlp, x), mu.std(axis=0), rtol=1e-6)
    total = np.sqrt(np.exp(logvar).mean(axis=0) + mu.var(axis=0))
    np.testing.assert_allclose(sigma_eff(mlp, x, "total"), total, rtol=1e-6)
    np.testing.assert_array_equal(sigma_eff(mlp, x, "prior"), np.ones(3))
    with pytest.raises(cv.CircuitVAEError, match="scale must be"):
        sigma_eff(mlp, x, "bogus")


def test_offset_grid():
    grid = offset_grid(2, 5, 3.0)
    np.testing.assert_allclose(grid, [[-3, -1.5, 0, 1.5, 3]] * 2)
    cal = offset_grid(2, 5, 3.0, np.array([0.5, 2.0]))
    np.testing.assert_allclose(cal, [[-1.5, -0.75, 0, 0.75, 1.5], [-6, -3, 0, 3, 6]])


def _loop_sweep(model, x, grid):
    """The unbatched reference: one decode per (latent, offset, row)."""
    mu = cv.run(model, x, method="encode").output.mean
    base = cv.run(model, mu, method="decode").output
    d, k = grid.shape
    rms = np.zeros((d, k))
    sq = np.zeros((d, base.shape[1]))
    for j in range(d):
        for kk in range(k):
            for i in range(len(x)):
                z = mu[i:i + 1].clone()
                z[0, j] += float(grid[j, kk])
                diff = (cv.run(model, z, method="decode").output - base[i:i + 1]).double()
                rms[j, kk] += diff.pow(2).mean().sqrt().item() / len(x)
                sq[j] += diff[0].pow(2).numpy() / (len(x) * k)
    return rms, sq


def test_batched_sweep_equals_per_intervention_loop(mlp):
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    grid = offset_grid(3, 3, 2.0, np.array([0.3, 1.0, 2.0]))
    mu = cv.run(mlp, x, method="encode").output.mean
    stats = latent_sweep(mlp, mu, grid)
    rms, sq = _loop_sweep(mlp, x, grid)
    np.testing.assert_allclose(stats.rms, rms, atol=1e-6)
    np.testing.assert_allclose(stats.sq, sq, atol=1e-6)
    tiny = latent_sweep(mlp, mu, grid, max_batch_rows=5)
    np.testing.assert_allclose(tiny.rms, stats.rms, atol=1e-6)
    np.testing.assert_allclose(tiny.sq, stats.sq, atol=1e-6)


@pytest.mark.parametrize("absolute", [False, True])
@pytest.mark.parametrize("profile", ["abs", "signed"])
def test_chunks_of_whole_blocks_equal_chunks_that_split_blocks(mlp, absolute, profile):
    """Chunks of >= n rows fold whole (latent, offset) blocks; smaller ones row ranges of one."""
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    mu = cv.run(mlp, x, method="encode").output.mean
    grid = offset_grid(2, 3, 1.5)
    kw = {"absolute": absolute, "profile": profile, "capture": ("decoder.0", "decoder.1"),
          "latents": np.array([2, 0])}
    per_row = latent_sweep(mlp, mu, grid, max_batch_rows=3, **kw)  # splits blocks of 4 rows
    # atol: float32 decodes of batches of other sizes round differently (~1e-9)
    for rows in (9, None):  # 2 blocks per chunk, then all 6 blocks in one chunk
        blocks = latent_sweep(mlp, mu, grid, max_batch_rows=rows, **kw)
        for field in ("rms", "l2", "sq"):
            np.testing.assert_allclose(getattr(blocks, field), getattr(per_row, field),
                                       rtol=1e-6, atol=1e-7)
        for name in kw["capture"]:
            np.testing.assert_allclose(blocks.activations[name], per_row.activations[name],
                                       rtol=1e-6, atol=1e-7)


def test_sweep_captures_activation_change(mlp):
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(1))
    mu = cv.run(mlp, x, method="encode").output.mean
    grid = offset_grid(3, 2, 1.0)
    stats = latent_sweep(mlp, mu, grid, capture=("decoder.0",), profile="signed")
    # decoder.0 is linear in z: the signed change of z_j by delta is W[:, j] * delta, and the
    # grid (-1, 1) is symmetric, so the mean signed change is zero
    np.testing.assert_allclose(stats.activations["decoder.0"], 0.0, atol=1e-6)
    abs_stats = latent_sweep(mlp, mu, grid, capture=("decoder.0",))
    w = mlp.decoder[0].weight.detach().double().numpy()
    np.testing.assert_allclose(abs_stats.activations["decoder.0"], np.abs(w.T), atol=1e-5)


def test_absolute_traversal(mlp, xpair):
    x = xpair[0][:2]
    out = traversal(mlp, x, np.array([-1.0, 0.5]))
    assert out.shape == (3, 2, 2, 6)
    mu = cv.run(mlp, x, method="encode").output.mean.clone()
    mu[:, 1] = 0.5
    expect = cv.run(mlp, mu, method="decode").output.numpy()
    np.testing.assert_allclose(out[1, 1], expect, atol=1e-6)


def test_traversal_of_a_latent_subset_with_offsets(mlp, xpair):
    x = xpair[0][:3]
    out = traversal(mlp, x, np.array([[-1.0, 2.0], [0.5, 0.25]]), latents=[2, 0],
                    absolute=False)
    assert out.shape == (2, 2, 3, 6)
    mu = cv.run(mlp, x, method="encode").output.mean.clone()
    mu[:, 0] += 0.25  # second latent of the subset (z0), second value
    expect = cv.run(mlp, mu, method="decode").output.numpy()
    np.testing.assert_allclose(out[1, 1], expect, atol=1e-6)
    with pytest.raises(cv.CircuitVAEError, match=r"latents must be indices in 0..2"):
        traversal(mlp, x, np.zeros(2), latents=[3])
    with pytest.raises(cv.CircuitVAEError, match=r"values has shape \(3, 2\); expected"):
        traversal(mlp, x, np.zeros((3, 2)), latents=[1])
