"""SAP: the Separated Attribute Predictability score (Kumar et al., 2018).

A port of ``disentanglement_lib/evaluation/metrics/sap_score.py`` on row-major arrays:
``codes`` ``(N, d)``, ``factors`` ``(N, K)`` (the reference takes the transposes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.svm import LinearSVC

from ..protocol import CircuitVAEError
from ._importance import (
    SKLEARN_VERSION,
    as_matrix,
    check_classes,
    check_not_constant,
    train_test,
)


@dataclass(frozen=True)
class SAPResult:
    """``value`` = mean of ``per_factor`` gaps; ``score_matrix`` is ``(d, K)``."""

    value: float
    per_factor: np.ndarray
    score_matrix: np.ndarray = field(repr=False)
    continuous_factors: bool = False
    sklearn_version: str = SKLEARN_VERSION


def sap(
    codes: Any,
    factors: Any,
    *,
    continuous_factors: bool = False,
    codes_test: Any | None = None,
    factors_test: Any | None = None,
    n_train: int | None = None,
    seed: int = 0,
) -> SAPResult:
    """SAP of codes ``(N, d)`` against factors ``(N, K)``.

    Score matrix ``S[j, k]``: for discrete factors (the study default), the test accuracy of
    ``LinearSVC(C=0.01, class_weight="balanced")`` fitted on the single code ``z_j`` to predict
    ``v_k``; for continuous factors, ``R^2 = cov(z_j, v_k)^2 / (var z_j var v_k)`` on all given
    rows (0 when ``var z_j <= 1e-12``) [paper: Kumar et al. 2018, disentanglement_lib].
    ``SAP = (1/K) sum_k (S_(1)k - S_(2)k)``, the mean gap between the two best codes.

    Discrete case rows: ``codes_test``/``factors_test``, or a seeded split of the given rows
    (``n_train`` default ``round(2N/3)``) [our choice]; ``random_state=seed`` is passed to the
    SVM [our choice]. The SVM uses sklearn's current ``dual="auto"`` solver choice (the reference
    ran under an older default); the result records the sklearn version.
    """
    c = as_matrix(codes, "codes")
    if c.shape[1] < 2:
        raise CircuitVAEError("SAP needs at least 2 code dimensions (it is a top-2 gap)")
    if continuous_factors:
        if codes_test is not None or factors_test is not None:
            raise CircuitVAEError("continuous SAP uses only codes/factors; drop the test arrays")
        y = as_matrix(factors, "factors", n_rows=c.shape[0])
        check_not_constant(y, "factors")
        scores = _r2_matrix(c, y)
    else:
        data = train_test(codes, factors, codes_test, factors_test, n_train=n_train, seed=seed)
        y_train = check_classes(data.targets_train)
        y_test = check_classes(data.targets_test, "factors_test")
        check_not_constant(y_train, "factors")
        scores = _svm_matrix(data.codes_train, y_train, data.codes_test, y_test, seed)
    top = np.sort(scores, axis=0)
    per_factor = top[-1] - top[-2]
    return SAPResult(
        value=float(np.mean(per_factor)),
        per_factor=per_factor,
        score_matrix=scores,
        continuous_factors=continuous_factors,
    )


def _r2_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            cov = np.cov(codes[:, j], factors[:, k], ddof=1)
            if cov[0, 0] > 1e-12:
                scores[j, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
    return scores


def _svm_matrix(
    codes: np.ndarray, y: np.ndarray, codes_test: np.ndarray, y_test: np.ndarray, seed: int
) -> np.ndarray:
    scores = np.zeros((codes.shape[1], y.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(y.shape[1]):
            clf = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
            clf.fit(codes[:, j : j + 1], y[:, k])
            scores[j, k] = np.mean(clf.predict(codes_test[:, j : j + 1]) == y_test[:, k])
    return scores
