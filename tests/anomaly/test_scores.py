"""Anomaly scores: known answers on planted anomalies, MC dropout, the PyOD-style detector."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import circuitvae as cv
from circuitvae.anomaly import (
    VAEAnomalyDetector,
    anomaly_scores,
    detection_metrics,
    dropout_modules,
    pixel_metrics,
)


class SubspaceAE(nn.Module):
    """Encodes onto the first 2 coordinates and decodes them back: rows inside that subspace
    reconstruct exactly, a row's error is its squared distance to the subspace / P."""

    speaks_circuitvae = True

    def __init__(self, p: int = 5, dropout: float = 0.0):
        super().__init__()
        self.latent_dim, self.input_shape = 2, (p,)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.p = p
        self.eval()

    def encode(self, x):
        return cv.Posterior(self.drop(x[:, :2]), torch.zeros_like(x[:, :2]))

    def decode(self, z):
        return torch.cat([z, z.new_zeros(z.shape[0], self.p - 2)], dim=1)



class HeteroscedasticAE(SubspaceAE):
    """The same, with a decoder that predicts a constant log-variance."""

    def __init__(self, logvar: float, **kw):
        super().__init__(**kw)
        self.logvar = logvar

    def decode_logvar(self, z):
        return torch.full((z.shape[0], self.p), self.logvar)


def _planted(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    normal = torch.cat([torch.randn(n, 2, generator=g), torch.zeros(n, 3)], dim=1)
    off = torch.randn(n // 4, 3, generator=g)
    anomalous = torch.cat([torch.randn(n // 4, 2, generator=g), off], dim=1)
    return normal, anomalous, off


def test_reconstruction_score_is_the_squared_distance_to_the_subspace():
    normal, anomalous, off = _planted()
    model = SubspaceAE()
    res = anomaly_scores(model, torch.cat([normal, anomalous]), mc_passes=1)
    np.testing.assert_allclose(res.recon[:40], 0.0, atol=1e-12)
    np.testing.assert_allclose(res.recon[40:], (off ** 2).sum(1).numpy() / 5, rtol=1e-6)
    assert np.all(res.epistemic == 0) and np.isnan(res.aleatoric).all()
    np.testing.assert_array_equal(res.score, res.recon)
    assert res.maps["recon"].shape == (50, 5)
    labels = np.r_[np.zeros(40), np.ones(10)]
    m = detection_metrics(res.score, labels)
    assert (m.n, m.n_anomalous) == (50, 10)
    assert m.roc_auc == pytest.approx(1.0) and m.pr_auc == pytest.approx(1.0)


def test_aleatoric_variance_and_the_normalized_score_by_hand():
    normal, anomalous, off = _planted()
    x = torch.cat([normal, anomalous])
    model = HeteroscedasticAE(float(np.log(4.0)))
    res = anomaly_scores(model, x, score="normalized", mc_passes=1)
    np.testing.assert_allclose(res.aleatoric, 4.0, rtol=1e-6)
    v = 4.0 + 1e-6
    sq = res.maps["recon"]
    np.testing.assert_allclose(res.score, (sq / v + np.log(v)).mean(1), rtol=1e-9)


def test_mc_dropout_passes_are_batched_and_match_a_loop_in_distribution():
    x = torch.ones(3, 5)
    model = SubspaceAE(dropout=0.5)
    t = 4000
    res = anomaly_scores(model, x, score="recon+epistemic", mc_passes=t, seed=1)
    # dropout(p=0.5) on a 1 scales it to 0 or 2 with equal chance: mean 1, variance 1 on the
    # two encoded coordinates, exactly 0 on the other three
    epi = res.maps["epistemic"]
    np.testing.assert_allclose(epi[:, :2], 1.0, atol=0.08)
    np.testing.assert_array_equal(epi[:, 2:], 0.0)
    np.testing.assert_allclose(res.score, res.recon + res.epistemic, rtol=1e-12)
    # the same moments from T separate passes (a loop)
    loop = []
    with torch.no_grad():
        model.drop.train()
        for _ in range(t // 10):
            loop.append(model.decode(model.encode(x).mean))
        model.drop.eval()
    loop = torch.stack(loop)
    np.testing.assert_allclose(loop.var(0, unbiased=False)[:, :2].numpy(), epi[:, :2], atol=0.2)
    # seeded: the same seed gives the same scores; the model is left in eval mode
    again = anomaly_scores(model, x, score="recon+epistemic", mc_passes=t, seed=1)
    np.testing.assert_array_equal(again.score, res.score)
    assert not any(m.training for m in dropout_modules(model))


def test_pyod_style_detector():
    normal, anomalous, _ = _planted(n=80)
    det = VAEAnomalyDetector(SubspaceAE(), mc_passes=1, contamination=0.1).fit(normal)
    assert det.decision_scores_.shape == (80,) and det.labels_.shape == (80,)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))
    pred = det.predict(torch.cat([normal[:5], anomalous]))
    assert pred[:5].tolist() == [0] * 5 and pred[5:].tolist() == [1] * len(anomalous)
    with pytest.raises(cv.CircuitVAEError, match="fit"):
        VAEAnomalyDetector(SubspaceAE(), mc_passes=1).predict(normal)
    with pytest.raises(cv.CircuitVAEError, match="contamination"):
        VAEAnomalyDetector(SubspaceAE(), contamination=0.7)


def test_pixel_metrics_known_values():
    masks = np.zeros((4, 6, 6))
    masks[:, 2:4, 2:4] = 1
    perfect = pixel_metrics(masks * 3.0 + 0.1, masks)
    assert perfect.auroc == pytest.approx(1.0) and perfect.auprc == pytest.approx(1.0)
    assert perfect.best_dice == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noisy = pixel_metrics(masks + rng.normal(0, 0.5, masks.shape), masks)
    assert 0.8 < noisy.auroc < 1 and 0 < noisy.best_dice < 1


@pytest.mark.parametrize(("call", "match"), [
    (lambda m, x: anomaly_scores(m, x, mc_passes=5), "needs stochastic layers"),
    (lambda m, x: anomaly_scores(m, x, score="normalized", mc_passes=1), "predicted variance"),
    (lambda m, x: anomaly_scores(m, x, score="zscore"), "score must be one of"),
    (lambda m, x: anomaly_scores(m, x, mc_passes=0), "mc_passes"),
    (lambda m, x: anomaly_scores(m, x[:0], mc_passes=1), "empty|at least one"),
    (lambda m, x: detection_metrics([0.1, 0.2], [0, 0]), "one class"),
    (lambda m, x: detection_metrics([0.1, 0.2], [0, 1, 1]), "one value each"),
    (lambda m, x: detection_metrics([np.nan, 0.2], [0, 1]), "NaN"),
    (lambda m, x: detection_metrics([0.1, 0.2], [0, 2]), "0 \\(normal\\) or 1"),
    (lambda m, x: pixel_metrics(np.zeros((2, 3)), np.zeros((2, 4))), "same shape"),
])
def test_bad_inputs_are_named(call, match):
    normal, _, _ = _planted()
    with pytest.raises(cv.CircuitVAEError, match=match):
        call(SubspaceAE(), normal)


def test_best_dice_is_exact_for_a_small_lesion():
    masks = np.zeros((2, 50, 50))
    masks[0, 10:12, 10:12] = 1  # 4 of 5000 pixels
    res = pixel_metrics(masks * 2.0 + 0.5, masks)
    assert res.best_dice == pytest.approx(1.0) and res.threshold == pytest.approx(2.5)


def test_default_mc_passes_follow_the_model():
    normal, _, _ = _planted()
    assert anomaly_scores(SubspaceAE(), normal).mc_passes == 1  # no dropout: one pass
    assert anomaly_scores(SubspaceAE(dropout=0.1), normal).mc_passes == 20
    det = VAEAnomalyDetector(SubspaceAE()).fit(normal)  # the default works without dropout
    assert det.decision_scores_.shape == (40,)
    feature_alpha = SubspaceAE()
    feature_alpha.drop = nn.FeatureAlphaDropout(0.1)
    assert dropout_modules(feature_alpha) == [feature_alpha.drop]
