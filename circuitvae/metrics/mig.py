"""MIG: the Mutual Information Gap (Chen et al., 2018).

A port of ``disentanglement_lib/evaluation/metrics/mig.py`` on row-major arrays: ``codes``
``(N, d)``, ``factors`` ``(N, K)`` (the reference takes the transposes).

Caveat: the value depends on ``sklearn.metrics.mutual_info_score``, whose numerics have changed
between sklearn releases (disentanglement_lib issue 33); the result records the sklearn version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import mutual_info_score

from ..protocol import CircuitVAEError
from ._discretize import Discretizer, discretize
from ._importance import SKLEARN_VERSION, as_matrix, check_classes, check_not_constant


@dataclass(frozen=True)
class MIGResult:
    """``value`` = mean over factors of ``per_factor``; ``mutual_info`` is ``(d, K)`` in nats,
    ``entropy`` ``(K,)`` the factor entropies (nats)."""

    value: float
    per_factor: np.ndarray
    mutual_info: np.ndarray = field(repr=False)
    entropy: np.ndarray = field(repr=False)
    discretizer: str = "histogram"
    n_bins: int = 20
    sklearn_version: str = SKLEARN_VERSION


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``M[j, k] = mutual_info_score(factors[:, k], codes[:, j])`` (nats), shape ``(d, K)``."""
    m = np.zeros((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            m[j, k] = mutual_info_score(factors[:, k], codes[:, j])
    return m


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """``H[k] = mutual_info_score(factors[:, k], factors[:, k])``, the plug-in entropy (nats)."""
    return np.array(
        [mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])]
    )


def mig(
    codes: Any,
    factors: Any,
    *,
    n_bins: int = 20,
    discretizer: Discretizer = "histogram",
) -> MIGResult:
    """Mutual Information Gap of codes ``(N, d)`` against integer factors ``(N, K)``.

    ``MIG = (1/K) sum_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)``, where ``z_(1)``, ``z_(2)``
    are the codes with the largest and second-largest mutual information with factor ``v_k``
    [paper: Chen et al. 2018]. Codes are discretized first: ``"histogram"`` (``n_bins``
    equal-width bins per code, the study default, 20 bins) or ``"identity"`` (codes already
    discrete); MI and entropy are plug-in estimates via ``sklearn.metrics.mutual_info_score``
    [paper: disentanglement_lib]. The reference's key is ``discrete_mig``. Needs d >= 2 and no
    constant factor (its entropy would be 0).
    """
    c = as_matrix(codes, "codes")
    y = check_classes(as_matrix(factors, "factors", n_rows=c.shape[0]))
    if c.shape[1] < 2:
        raise CircuitVAEError("MIG needs at least 2 code dimensions (it is a top-2 gap)")
    check_not_constant(y, "factors")
    discrete = discretize(c, discretizer, n_bins)
    m = discrete_mutual_info(discrete, y)
    h = discrete_entropy(y)
    top = np.sort(m, axis=0)[::-1]
    per_factor = (top[0] - top[1]) / h
    return MIGResult(
        value=float(np.mean(per_factor)),
        per_factor=per_factor,
        mutual_info=m,
        entropy=h,
        discretizer=discretizer,
        n_bins=int(n_bins),
    )
