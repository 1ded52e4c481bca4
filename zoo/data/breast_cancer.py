"""A tabular anomaly set: scikit-learn's bundled Wisconsin breast-cancer data (methods.md s. 9).

Benign tumours are the normal class and malignant ones the anomalies [our choice, after the
methods spec]. A seeded 70% of the benign rows is the training split. The test split holds the
other benign rows and every malignant row (``test.y`` = 1). The 30 numeric features are
standardized with the training rows' mean and standard deviation. The data ships with
scikit-learn (569 rows; Street, Wolberg and Mangasarian 1993), so nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import torch

from circuitvae.protocol import CircuitVAEError, Feature, Split

from .mri import AnomalyDataset


def load_breast_cancer_anomaly(*, seed: int = 0, n_train: int | None = None,
                               n_test: int | None = None,
                               train_fraction: float = 0.7) -> AnomalyDataset:
    """The breast-cancer anomaly set (see the module doc); ``n_train`` / ``n_test`` cap the
    splits (seeded subsamples)."""
    from sklearn.datasets import load_breast_cancer

    if not 0 < train_fraction < 1:
        raise CircuitVAEError(f"train_fraction must be in (0, 1), got {train_fraction}")
    data = load_breast_cancer()
    x, malignant = data.data.astype(np.float64), data.target == 0
    rng = np.random.default_rng(seed)
    benign = rng.permutation(np.flatnonzero(~malignant))
    n_fit = int(round(train_fraction * len(benign)))
    fit, rest = benign[:n_fit], benign[n_fit:]
    test = np.r_[rest, np.flatnonzero(malignant)]
    if n_train is not None:
        fit = fit[:n_train]
    if n_test is not None and n_test < len(test):
        test = np.sort(rng.choice(test, n_test, replace=False))
    mean, sd = x[fit].mean(0), x[fit].std(0)
    sd[sd == 0] = 1.0

    def rows(idx: np.ndarray) -> torch.Tensor:
        return torch.tensor((x[idx] - mean) / sd, dtype=torch.float32)

    ds = AnomalyDataset(
        "breast_cancer", Split(rows(fit), np.zeros(len(fit), np.int64)),
        Split(rows(test), malignant[test].astype(np.int64)), np.zeros((0,), np.float32),
        {"source": "sklearn.datasets.load_breast_cancer (Wisconsin diagnostic, 569 rows)",
         "seed": seed, "normal": "benign", "anomaly": "malignant",
         "standardized_with": "training rows"})
    ds.features = [Feature(str(name), "numeric", (i,))
                   for i, name in enumerate(data.feature_names)]
    return ds
