"""Tabular anomaly detection on corrupted rows (methods.md section 11).

[ours; the review of the tabular paper asks for downstream tasks beyond logistic regression]

A seeded ``fraction`` of the test rows (exactly ``max(1, round(fraction * N))``) is corrupted:
each gets one feature group, drawn uniformly, replaced by the values of another row drawn
uniformly among the rows whose values in that group differ (so every corrupted row really
changed). The groups are the data's semantic feature groups when it has them, else one group
per feature. Every row is then scored by :func:`circuitvae.anomaly.anomaly_scores` (``recon``
by default: the mean squared reconstruction error), and the scores are judged against the
corruption labels by ROC AUC and PR AUC (average precision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..interventions.input import resolve_groups
from ..protocol import CircuitVAEError, check_int, feature_groups_of, features_of, resolve_inputs

#: donor draws per corrupted row before the row is left clean (a group constant over all rows)
MAX_DRAWS = 50


@dataclass(frozen=True)
class CorruptionResult:
    """ROC AUC and PR AUC of the anomaly ``score`` for the corrupted rows."""

    roc_auc: float
    pr_auc: float
    n: int
    n_corrupted: int
    score: str


def corrupt_rows(x: Tensor, groups: list[list[int]], fraction: float, seed: int
                 ) -> tuple[Tensor, np.ndarray]:
    """``(corrupted copy of x, 0/1 labels)``; see the module doc. Seeded by ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise CircuitVAEError(f"fraction must be in (0, 1), got {fraction}")
    n = x.shape[0]
    if n < 2:
        raise CircuitVAEError("corrupting rows needs at least 2 rows (a donor row)")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n, size=max(1, int(round(fraction * n))), replace=False)
    out = x.clone()
    labels = np.zeros(n, dtype=np.int64)
    for row in np.sort(chosen):
        cols = groups[int(rng.integers(len(groups)))]
        for _ in range(MAX_DRAWS):
            donor = int(rng.integers(n - 1))
            donor += donor >= row  # another row
            if not torch.equal(x[donor, cols], x[row, cols]):
                out[row, cols] = x[donor, cols]
                labels[row] = 1
                break
    if labels.sum() == 0:
        raise CircuitVAEError("no row could be corrupted: every group takes one value on "
                              "these rows")
    return out, labels


def corruption_detection_of_rows(model: Any, x: Tensor, groups: list[list[int]], *,
                                 fraction: float = 0.1, score: str = "recon", seed: int = 0,
                                 max_batch_rows: int | None = None) -> CorruptionResult:
    """Corrupt checked rows ``x`` and judge the anomaly scores (see the module doc)."""
    from ..anomaly import anomaly_scores, detection_metrics

    corrupted, labels = corrupt_rows(x, groups, fraction, seed)
    scores = anomaly_scores(model, corrupted, score=score, mc_passes=1, seed=seed,
                            max_batch_rows=max_batch_rows)
    m = detection_metrics(scores.score, labels)
    return CorruptionResult(m.roc_auc, m.pr_auc, int(len(labels)), int(labels.sum()), score)


def corruption_detection(model: Any, data: Any, *, n: int | None = None,
                         fraction: float = 0.1, score: str = "recon", seed: int = 0,
                         max_batch_rows: int | None = None) -> CorruptionResult:
    """Anomaly ROC AUC / PR AUC on test rows of tabular ``data`` with a seeded ``fraction``
    corrupted (see the module doc). ``n``: test rows drawn with ``seed`` (None: all)."""
    check_int("n", n, minimum=2, allow_none=True)
    x = resolve_inputs(data, model, n=n, seed=seed)
    if x.ndim != 2:
        raise CircuitVAEError(f"corruption detection needs tabular rows (N, D), got shape "
                              f"{tuple(x.shape)}")
    return corruption_detection_of_rows(model, x, detection_groups(data, x.shape[1]),
                                        fraction=fraction, score=score, seed=seed,
                                        max_batch_rows=max_batch_rows)


def detection_groups(data: Any, n_columns: int) -> list[list[int]]:
    """The semantic feature groups' columns when ``data`` has them, else one per feature
    (every column its own group for data without features)."""
    if features_of(data) is not None and feature_groups_of(data) is not None:
        kind = "semantic"
    elif features_of(data) is not None:
        kind = "features"
    else:
        kind = "elements"
    return [list(c) for c in resolve_groups(data, kind, n_columns).columns]
