"""The BetaVAE disentanglement score (Higgins et al., 2017).

A port of ``compute_beta_vae_sklearn`` in ``disentanglement_lib/evaluation/metrics/beta_vae.py``.
It samples from a ground-truth dataset (see :mod:`circuitvae.metrics._ground_truth`) with a
``np.random.RandomState(seed)``, in the reference's order of draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from ..protocol import CircuitVAEError
from ._ground_truth import RepresentationFn, check_dataset, random_state, represent
from ._importance import SKLEARN_VERSION


@dataclass(frozen=True)
class BetaVAEResult:
    """``value`` = ``eval_accuracy``; ``coef`` is the ``(K, d)`` logistic-regression weights."""

    value: float
    train_accuracy: float
    eval_accuracy: float
    coef: np.ndarray = field(repr=False)
    sklearn_version: str = SKLEARN_VERSION


def beta_vae_score(
    dataset: Any,
    representation_fn: RepresentationFn,
    *,
    seed: int = 0,
    batch_size: int = 64,
    n_train: int = 10000,
    n_eval: int = 5000,
) -> BetaVAEResult:
    """BetaVAE score: accuracy of a linear classifier that recovers the fixed factor.

    Each point: draw factor k uniformly and two batches of ``batch_size`` factor vectors that
    agree on ``v_k``; the feature is ``mean_batch |z(x1) - z(x2)|`` ``(d,)`` and the label k.
    ``LogisticRegression`` (sklearn defaults, ``random_state=seed``) is fitted on ``n_train``
    points; the score is its accuracy on ``n_eval`` fresh points [paper: Higgins et al. 2017,
    disentanglement_lib; study: batch 64, 10000 train, 5000 eval].
    """
    k_factors = check_dataset(dataset)
    if batch_size < 1 or n_train < 1 or n_eval < 1:
        raise CircuitVAEError("batch_size, n_train and n_eval must be positive")
    rs = random_state(seed)
    x_train, y_train = _points(dataset, representation_fn, batch_size, n_train, rs, k_factors)
    if np.unique(y_train).size < 2:
        raise CircuitVAEError(
            f"the {n_train} training points fix a single factor; raise n_train so that the "
            "classifier sees at least two classes"
        )
    model = LogisticRegression(random_state=seed)
    model.fit(x_train, y_train)
    train_acc = float(np.mean(model.predict(x_train) == y_train))
    x_eval, y_eval = _points(dataset, representation_fn, batch_size, n_eval, rs, k_factors)
    eval_acc = float(np.mean(model.predict(x_eval) == y_eval))
    return BetaVAEResult(eval_acc, train_acc, eval_acc, np.asarray(model.coef_))


def _points(
    dataset: Any,
    representation_fn: RepresentationFn,
    batch_size: int,
    n_points: int,
    rs: np.random.RandomState,
    k_factors: int,
) -> tuple[np.ndarray, np.ndarray]:
    features: list[np.ndarray] = []
    labels = np.zeros(n_points, dtype=np.int64)
    for i in range(n_points):
        k = rs.randint(k_factors)
        f1 = np.array(dataset.sample_factors(batch_size, rs))
        f2 = np.array(dataset.sample_factors(batch_size, rs))
        f2[:, k] = f1[:, k]
        o1 = dataset.sample_observations_from_factors(f1, rs)
        o2 = dataset.sample_observations_from_factors(f2, rs)
        z1 = represent(representation_fn, o1, batch_size)
        z2 = represent(representation_fn, o2, batch_size)
        labels[i] = k
        features.append(np.mean(np.abs(z1 - z2), axis=0))
    return np.stack(features), labels
