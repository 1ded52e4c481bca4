"""Ridgeway & Mozer (2018) modularity and explicitness.

A port of ``disentanglement_lib/evaluation/metrics/modularity_explicitness.py`` on row-major
arrays (``codes`` ``(N, d)``, ``factors`` ``(N, K)``). :func:`ridgeway_modularity` also takes
any non-negative latent-by-group matrix, e.g. a matrix of intervention effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ..protocol import CircuitVAEError
from ._discretize import Discretizer, discretize
from ._importance import SKLEARN_VERSION, check_classes, check_not_constant, train_test
from .mig import discrete_mutual_info


@dataclass(frozen=True)
class RidgewayModularityResult:
    """``value`` = mean of ``per_latent``."""

    value: float
    per_latent: np.ndarray


def ridgeway_modularity(matrix: Any) -> RidgewayModularityResult:
    """Modularity of a non-negative ``(d latents, G groups)`` matrix ``m`` (MI or effects).

    Per latent j with ``theta_j = max_g m_jg``:
    ``modularity_j = 1 - sum_{g != argmax} m_jg^2 / (theta_j^2 (G - 1))``, and 0 for a latent
    with ``theta_j = 0``; the score is the mean over latents [paper: Ridgeway & Mozer 2018, as
    implemented in disentanglement_lib: the squared maximum is subtracted from the sum of
    squares, so ties at the maximum count once].
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] == 0:
        raise CircuitVAEError(f"matrix must be 2-D (latents, groups), got shape {m.shape}")
    if m.shape[1] < 2:
        raise CircuitVAEError("Ridgeway modularity needs at least 2 groups (divides by G - 1)")
    if not np.isfinite(m).all() or (m < 0).any():
        raise CircuitVAEError("matrix must be finite and non-negative")
    sq = np.square(m)
    max_sq = sq.max(axis=1)
    numerator = sq.sum(axis=1) - max_sq
    per_latent = np.zeros(m.shape[0])
    live = max_sq > 0
    per_latent[live] = 1.0 - numerator[live] / (max_sq[live] * (m.shape[1] - 1.0))
    return RidgewayModularityResult(float(per_latent.mean()), per_latent)


@dataclass(frozen=True)
class ModularityExplicitnessResult:
    """``value`` = modularity; explicitness = mean one-vs-rest ROC-AUC per factor."""

    value: float
    modularity: float
    explicitness_train: float
    explicitness_test: float
    mutual_info: np.ndarray = field(repr=False)
    sklearn_version: str = SKLEARN_VERSION


def modularity_explicitness(
    codes: Any,
    factors: Any,
    *,
    codes_test: Any | None = None,
    factors_test: Any | None = None,
    n_train: int | None = None,
    seed: int = 0,
    n_bins: int = 20,
    discretizer: Discretizer = "histogram",
) -> ModularityExplicitnessResult:
    """Modularity (of the discretized-code MI matrix, train rows) and explicitness.

    Explicitness of factor k: ``LogisticRegression`` (sklearn defaults) on codes standardized
    with the train mean/std, one-vs-rest ROC-AUC of ``predict_proba`` (macro over classes) on
    train and test rows; averaged over factors [paper: Ridgeway & Mozer 2018,
    disentanglement_lib]. [our choice]: classes absent from the rows scored are left out of the
    macro average (the reference fails there); constant codes are left unscaled (std 1);
    rows as in :func:`circuitvae.metrics.dci.dci` (given test arrays, or a seeded split).
    """
    data = train_test(codes, factors, codes_test, factors_test, n_train=n_train, seed=seed)
    y_train = check_classes(data.targets_train)
    y_test = check_classes(data.targets_test, "factors_test")
    check_not_constant(y_train, "factors")
    mi = discrete_mutual_info(discretize(data.codes_train, discretizer, n_bins), y_train)
    modularity = ridgeway_modularity(mi).value
    mean = data.codes_train.mean(axis=0)
    std = data.codes_train.std(axis=0)
    std[std == 0] = 1.0
    x_train = (data.codes_train - mean) / std
    x_test = (data.codes_test - mean) / std
    auc_train, auc_test = [], []
    for k in range(y_train.shape[1]):
        clf = LogisticRegression(random_state=seed).fit(x_train, y_train[:, k])
        auc_train.append(_macro_auc(clf, x_train, y_train[:, k]))
        auc_test.append(_macro_auc(clf, x_test, y_test[:, k]))
    return ModularityExplicitnessResult(
        value=modularity,
        modularity=modularity,
        explicitness_train=float(np.mean(auc_train)),
        explicitness_test=float(np.mean(auc_test)),
        mutual_info=mi,
    )


def _macro_auc(clf: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
    proba = clf.predict_proba(x)
    onehot = (y[:, None] == clf.classes_[None, :]).astype(int)
    keep = (onehot.sum(axis=0) > 0) & (onehot.sum(axis=0) < len(y))
    if not keep.any():
        return float("nan")
    return float(roc_auc_score(onehot[:, keep], proba[:, keep], average="macro"))
