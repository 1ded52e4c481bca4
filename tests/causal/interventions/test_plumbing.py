"""Chunk sizes, hidden-site selection, wrapped user models and discrete warnings."""

import numpy as np
import pytest
import torch
from torch import nn

import circuitvae as cv
from circuitvae.interventions.batching import chunk_rows, hidden_sites


def test_chunk_rows(mlp, conv_vae):
    assert chunk_rows(7, mlp) == 7
    assert chunk_rows(None, mlp) == 8192
    assert chunk_rows(None, conv_vae) == min(8192, 2**25 // 48)
    with pytest.raises(cv.CircuitVAEError, match="max_batch_rows"):
        chunk_rows(0, mlp)


def test_hidden_sites_are_leaves_without_the_output_layer(mlp):
    names = [s.name for s in hidden_sites(mlp)]
    assert "encoder" not in names and "decoder" not in names  # containers
    assert "decoder.4" not in names  # output layer (size P)
    assert "hook_mu" not in names and "fc_mu" not in names  # latent part
    # each hidden unit once: the ReLU outputs, not also the Linear outputs that feed them
    assert [s.name for s in hidden_sites(mlp, "decoder")] == ["decoder.1", "decoder.3"]
    with pytest.raises(cv.CircuitVAEError, match="layers must be"):
        hidden_sites(mlp, "middle")


class UserVAE(nn.Module):
    """A user's model that does not speak the protocol: encode returns a (mu, logvar) tuple."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Linear(4, 4)
        self.dec = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 4))

    def encode(self, x):
        h = self.enc(x)
        return h[:, :2], h[:, 2:]

    def decode(self, z):
        return self.dec(z)


def test_metrics_run_through_the_adapter():
    model = cv.wrap(UserVAE(), input_shape=(4,))
    x = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    res = cv.ces(model, x)
    assert res.per_latent.shape == (2,) and np.all(res.per_latent > 0)
    pr = cv.patch(model, x[:5], x[5:10], site="hook_z")
    np.testing.assert_allclose(pr.patched_output, pr.source_output, atol=1e-6)
    rep = cv.mediation_by_layer(model, x[:5], x[5:10])
    assert rep.saturated


def test_discrete_warning_in_every_continuous_sweep(vq):
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    for fn in (lambda: cv.specificity(vq, x), lambda: cv.modularity(vq, x, level="latent")):
        with pytest.warns(UserWarning, match="discrete_ok=True"):
            try:
                fn()
            except cv.CircuitVAEError:
                pass  # the tiny VQ has no decoder hidden sites; the warning came first
