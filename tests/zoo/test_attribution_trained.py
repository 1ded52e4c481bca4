"""Attribution patching on trained zoo models ranks units as exact patching does."""

import pytest
import torch

import circuitvae as cv
from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset


@pytest.mark.parametrize("arch", ["vae", "beta_vae"])
def test_rank_correlation_with_exact_patching_at_every_site(arch):
    torch.manual_seed(0)
    data = load_dataset("adult", n_train=2000, n_test=400, seed=0, download=False)
    model = train(build(arch, dataset=data, seed=0), data, seed=0, max_epochs=8, verbose=False)
    xb, xs = data.test.x[:100], data.test.x[100:200]
    res = cv.attribution_patch(model, xb, xs, check="all")
    assert list(res.scores) == ["encoder.1", "encoder.3", "decoder.1", "decoder.3"]
    for site, rho in res.rank_correlation.items():
        assert rho >= 0.9, (site, rho)
