"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams, 2018).

A port of ``disentanglement_lib/evaluation/metrics/dci.py`` on row-major arrays: ``codes``
``(N, d)`` and ``factors`` ``(N, K)`` (the reference takes the transposes ``(d, N)``,
``(K, N)``). The importance matrix keeps the reference layout ``(d codes, K factors)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats

from ..protocol import CircuitVAEError
from ._importance import (
    SKLEARN_VERSION,
    Estimator,
    check_classes,
    check_not_constant,
    gbt_importance,
    train_test,
)

_EPS = 1e-11  # added before the entropies, as disentanglement_lib does


@dataclass(frozen=True)
class DCIResult:
    """DCI scores. ``value`` is the disentanglement score.

    ``importance`` is ``(d, K)``; ``informativeness_*`` are mean classification accuracies
    (the reference names them ``err`` but computes accuracy).
    """

    value: float
    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray = field(repr=False)
    sklearn_version: str = SKLEARN_VERSION


def _check_importance(importance: Any) -> np.ndarray:
    r = np.asarray(importance, dtype=np.float64)
    if r.ndim != 2:
        raise CircuitVAEError(f"importance must be a 2-D (codes, factors) matrix, got {r.shape}")
    if r.shape[0] < 2 or r.shape[1] < 2:
        raise CircuitVAEError(
            f"importance has shape {r.shape}; DCI needs at least 2 codes and 2 factors (the "
            "entropies use bases #factors and #codes)"
        )
    if not np.isfinite(r).all() or (r < 0).any():
        raise CircuitVAEError("importance must be finite and non-negative")
    return r


def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    """``D_j = 1 - H_K(R_j. / sum_k R_jk)`` with ``1e-11`` added to R [paper]."""
    r = _check_importance(importance)
    return 1.0 - scipy.stats.entropy(r.T + _EPS, base=r.shape[1])


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    """``C_k = 1 - H_d(R_.k / sum_j R_jk)`` with ``1e-11`` added to R [paper]."""
    r = _check_importance(importance)
    return 1.0 - scipy.stats.entropy(r + _EPS, base=r.shape[0])


def dci_from_importance(importance: Any) -> tuple[float, float]:
    """``(disentanglement, completeness)`` of a ``(d codes, K factors)`` importance matrix.

    ``D = sum_j rho_j D_j`` with ``rho_j = sum_k R_jk / sum R`` and
    ``C = sum_k rho_k C_k`` with ``rho_k = sum_j R_jk / sum R``; the entropies use base K for D
    and base d for C, and ``1e-11`` is added to R inside them [paper: Eastwood & Williams 2018,
    as implemented in disentanglement_lib]. An all-zero matrix gets uniform weights, so it
    scores 0.
    """
    r = _check_importance(importance)
    per_code = disentanglement_per_code(r)
    per_factor = completeness_per_factor(r)
    weights = np.ones_like(r) if r.sum() == 0.0 else r
    code_w = weights.sum(axis=1) / weights.sum()
    factor_w = weights.sum(axis=0) / weights.sum()
    return float(np.sum(per_code * code_w)), float(np.sum(per_factor * factor_w))


def dci(
    codes: Any,
    factors: Any,
    *,
    codes_test: Any | None = None,
    factors_test: Any | None = None,
    n_train: int | None = None,
    seed: int = 0,
    n_estimators: int = 100,
    estimator: Estimator = None,
    n_jobs: int | None = None,
) -> DCIResult:
    """DCI of codes ``(N, d)`` against integer factors ``(N, K)``.

    One ``GradientBoostingClassifier`` per factor on all codes (sklearn defaults as the
    reference [paper]; ``random_state=seed`` [our choice]); ``R = |feature_importances_|``;
    D and C from :func:`dci_from_importance`; informativeness = mean train/test accuracy.

    Rows: pass ``codes_test``/``factors_test`` for a held-out set (the study uses 10000 train
    and 5000 test points), or the given rows are split at random with ``seed``, ``n_train``
    rows for training (default ``round(2N/3)``, the study's ratio) [our choice].
    ``n_estimators`` (sklearn default 100) may be lowered for speed. ``estimator`` picks the
    tree model: ``"sklearn"`` (default, the reference), ``"lightgbm"`` (the same model family,
    histogram-based and much faster; :func:`~circuitvae.metrics._importance.lightgbm_estimator`
    says how it is set up and what differs), or a factory ``kind -> unfitted estimator``.
    ``n_jobs`` fits the factors' models in parallel threads
    (same numbers).
    """
    data = train_test(codes, factors, codes_test, factors_test, n_train=n_train, seed=seed)
    y_train = check_classes(data.targets_train)
    y_test = check_classes(data.targets_test, "factors_test")
    check_not_constant(y_train, "factors")
    fit = gbt_importance(
        data.codes_train,
        y_train,
        ["categorical"] * y_train.shape[1],
        seed=seed,
        n_estimators=n_estimators,
        estimator=estimator,
        codes_test=data.codes_test,
        targets_test=y_test,
        n_jobs=n_jobs,
    )
    d_score, c_score = dci_from_importance(fit.importance)
    assert fit.test_score is not None
    return DCIResult(
        value=d_score,
        disentanglement=d_score,
        completeness=c_score,
        informativeness_train=float(np.mean(fit.train_score)),
        informativeness_test=float(np.mean(fit.test_score)),
        importance=fit.importance,
    )
