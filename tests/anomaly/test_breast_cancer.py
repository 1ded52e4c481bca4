"""A zoo VAE trained on benign rows of scikit-learn's breast-cancer data flags malignant ones."""

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer

from circuitvae.anomaly import VAEAnomalyDetector, detection_metrics
from circuitvae.zoo import build, train


def test_reconstruction_error_separates_malignant_from_benign():
    data = load_breast_cancer()
    x, y = data.data, (data.target == 0).astype(int)  # malignant = anomaly
    benign = np.flatnonzero(y == 0)
    np.random.default_rng(0).shuffle(benign)
    fit_rows, held_out = benign[:250], benign[250:]
    mu, sd = x[fit_rows].mean(0), x[fit_rows].std(0)

    def scale(a):
        return torch.tensor((a - mu) / sd, dtype=torch.float32)

    model = train(build("vae", input_shape=(30,), seed=0), scale(x[fit_rows]), seed=0,
                  max_epochs=60, verbose=False)
    det = VAEAnomalyDetector(model, mc_passes=1).fit(scale(x[fit_rows]))
    test = np.r_[held_out, np.flatnonzero(y == 1)]
    m = detection_metrics(det.decision_function(scale(x[test])), y[test])
    assert m.roc_auc > 0.85 and m.pr_auc > 0.85
    assert det.predict(scale(x[test]))[len(held_out):].mean() > 0.5  # most malignant flagged
