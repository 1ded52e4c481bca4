"""The definitions the audit found off-spec, each tested against the old behaviour.

* DCI, MIG and SAP use their own sample sizes (``n_score_train`` / ``n_score_eval``), not the
  ``n`` analysed rows split 2:1;
* modularity counts each hidden unit once (a Linear followed by its ReLU is one layer of units);
* calibrated CES and specificity are also reported at the other sigma_eff scales;
* latent activity (training adequacy) has a closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import circuitvae as cv
from circuitvae.interventions.batching import hidden_sites
from circuitvae.metrics.adequacy import latent_activity
from circuitvae.protocol import CircuitVAEError, Posterior


def test_each_hidden_unit_is_counted_once(mlp):
    names = [s.name for s in hidden_sites(mlp)]
    # encoder: Linear 0 -> ReLU 1 -> Linear 2 -> ReLU 3; decoder the same, then the output layer
    assert names == ["encoder.1", "encoder.3", "decoder.1", "decoder.3"]
    units = sum(s.n_units for s in hidden_sites(mlp))
    assert units == 4 * 8  # four hidden layers of 8 units, not eight "layers"


def test_a_linear_without_activation_is_its_own_layer(linear_vae):
    # no elementwise module follows: every leaf (but the output layer) is a hidden layer
    assert [s.name for s in hidden_sites(linear_vae)] == ["encoder.0", "decoder.0"]


def test_dropout_and_batchnorm_do_not_make_new_units():
    class Net(nn.Module):
        latent_dim, input_shape = 2, (4,)

        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                                     nn.Dropout(0.1), nn.Linear(6, 4))
            self.dec = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 4))
            self.eval()

        def encode(self, x):
            h = self.enc(x)
            return Posterior(h[:, :2], h[:, 2:])

        def decode(self, z):
            return self.dec(z)

    model = cv.wrap(Net(), input_shape=(4,))
    names = [s.name for s in hidden_sites(model)]
    assert names == ["enc.3", "enc.4", "dec.1"], names


def test_factor_metrics_use_their_own_sample_sizes(conv_vae, fake_images, monkeypatch):
    seen = {}
    from circuitvae.metrics import mig as mig_module  # the step imports mig when it runs

    original = mig_module.mig

    def spy(codes, factors, **kw):
        seen["rows"] = np.asarray(codes).shape[0]
        return original(codes, factors, **kw)

    monkeypatch.setattr(mig_module, "mig", spy)
    row = cv.analyze(conv_vae, fake_images, n=12, seed=0, n_score_train=90, n_score_eval=30,
                     dci_n_estimators=3, metrics=["dci/mig/sap"], strict=True).iloc[0]
    assert seen["rows"] == 90  # not 12 * 2/3 analysed rows (the old rule)
    assert np.isfinite(row["mig"]) and np.isfinite(row["dci_disentanglement"])
    # the same call with another n gives the same factor metrics: they do not use the n rows
    other = cv.analyze(conv_vae, fake_images, n=20, seed=0, n_score_train=90, n_score_eval=30,
                       dci_n_estimators=3, metrics=["dci/mig/sap"], strict=True).iloc[0]
    for col in ("mig", "sap", "dci_disentanglement", "dci_completeness"):
        assert other[col] == row[col]


def test_factor_metrics_match_the_reference_pipeline(conv_vae, fake_images):
    from circuitvae.metrics._ground_truth import (
        random_state,
        representation_function,
        sample_codes,
    )

    rep = representation_function(conv_vae)
    rs = random_state(3)
    codes, f = sample_codes(fake_images, rep, 80, rs)
    codes_test, f_test = sample_codes(fake_images, rep, 40, rs)
    assert codes.shape == (80, conv_vae.latent_dim) and f.shape == (80, 2)
    row = cv.analyze(conv_vae, fake_images, n=10, seed=3, n_score_train=80, n_score_eval=40,
                     dci_n_estimators=3, metrics=["dci/mig/sap"], strict=True).iloc[0]
    assert row["mig"] == cv.mig(codes, f).value
    assert row["sap"] == cv.sap(codes, f, codes_test=codes_test, factors_test=f_test,
                                seed=3).value
    ref = cv.dci(codes, f, codes_test=codes_test, factors_test=f_test, seed=3, n_estimators=3)
    assert row["dci_disentanglement"] == ref.disentanglement


@pytest.mark.parametrize("scale", ["total", "posterior"])
def test_scale_variants_equal_the_metric_at_that_scale(circuit_models, tabular, scale):
    mlp = circuit_models[0]
    row = cv.analyze(mlp, tabular, n=30, seed=1, metrics=["ces_calibrated", "specificity",
                                                          f"ces_calibrated_{scale}",
                                                          f"specificity_{scale}"],
                     strict=True).iloc[0]
    assert row[f"ces_calibrated_{scale}"] == cv.ces(mlp, tabular, n=30, seed=1,
                                                    scale=scale).value
    assert row[f"specificity_{scale}"] == cv.specificity(mlp, tabular, n=30, seed=1,
                                                         scale=scale).value
    assert row["ces_calibrated"] == cv.ces(mlp, tabular, n=30, seed=1).value
    assert row[f"ces_calibrated_{scale}"] != row["ces_calibrated"]


class FixedPosterior(nn.Module):
    """An encoder whose posterior is given: mu and logvar per dimension, for every row."""

    latent_dim, input_shape = 3, (2,)

    def __init__(self, mu, logvar):
        super().__init__()
        self.mu, self.logvar = torch.tensor(mu), torch.tensor(logvar)
        self.lin = nn.Linear(2, 2)

    def encode(self, x):
        n = x.shape[0]
        return Posterior(self.mu.expand(n, 3) + 0 * self.lin(x)[:, :1],
                         self.logvar.expand(n, 3))

    def decode(self, z):
        return z[:, :2]


def test_latent_activity_closed_form():
    # KL_j = 0.5 * (mu^2 + exp(lv) - 1 - lv): dim 0 at the prior (0), dim 1 mu=0.2 (0.02 nats),
    # dim 2 mu=0.1 (0.005 nats): one dimension above 0.01 nats
    model = FixedPosterior([0.0, 0.2, 0.1], [0.0, 0.0, 0.0])
    act = latent_activity(model, torch.zeros(5, 2))
    np.testing.assert_allclose(act.kl_per_dim, [0.0, 0.02, 0.005], rtol=1e-6, atol=1e-9)
    assert act.active_dims == 1 and not act.collapsed and act.n == 5
    lv = np.log(0.5)
    act = latent_activity(FixedPosterior([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), torch.zeros(4, 2))
    assert act.collapsed
    kl = latent_activity(FixedPosterior([0.0] * 3, [lv] * 3), torch.zeros(2, 2)).kl_per_dim
    np.testing.assert_allclose(kl, 0.5 * (0.5 - 1 - lv), rtol=1e-6)


def test_latent_activity_bad_inputs(vq, mlp):
    with pytest.raises(CircuitVAEError, match="vector-quantized encoder"):
        latent_activity(vq, torch.zeros(3, 6))
    with pytest.raises(CircuitVAEError, match="threshold must be"):
        latent_activity(mlp, torch.zeros(3, 6), threshold=-1)


def test_one_scale_failing_keeps_the_other(vq):
    # a VQ encoder has no log-variance: the "posterior" scale cannot be computed, "total" can
    x = torch.randn(20, 6, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="scales: posterior"):
        row = cv.analyze(vq, x, n=20, metrics=["ces_calibrated_total",
                                               "ces_calibrated_posterior"]).iloc[0]
    assert np.isfinite(row["ces_calibrated_total"])
    assert np.isnan(row["ces_calibrated_posterior"])


def test_a_non_sweep_metric_runs_on_one_row(mlp):
    row = cv.analyze(mlp, torch.randn(1, 6), metrics=["mse"], strict=True).iloc[0]
    assert np.isfinite(row["mse"])
    with pytest.raises(CircuitVAEError, match="at least 2 rows"):
        cv.analyze(mlp, torch.randn(1, 6), metrics=["ces_calibrated"], strict=True)
