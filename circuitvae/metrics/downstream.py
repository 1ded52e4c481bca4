"""Downstream usefulness of the latent representation: logistic-regression ROC-AUC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..interventions.batching import encode_all
from ..protocol import (
    CircuitVAEError,
    DatasetLike,
    check_input,
    check_int,
    factor_names_of,
    factors_of,
    labels_of,
)


@dataclass(frozen=True)
class DownstreamResult:
    """``value``: ROC-AUC on the test split (one-vs-rest macro AUC for > 2 classes)."""

    value: float
    n_classes: int
    n_train: int
    n_test: int
    multiclass: bool


def _labels(dataset: Any, split: Any, label: str | int | None, which: str) -> np.ndarray:
    """``split.y``, or a ground-truth factor column when the split has no labels."""
    labels = labels_of(split)
    if label is None and labels is not None:
        return np.asarray(labels)
    factors = factors_of(split)
    names = factor_names_of(dataset)
    if label is None and "shape" in names:
        label = "shape"
    if factors is None or label is None:
        raise CircuitVAEError(
            f"downstream AUC needs labels: the {which} split has no y (pass label= a factor "
            "name or index for a dataset with factors)"
        )
    if isinstance(label, str):
        if label not in names:
            raise CircuitVAEError(f"unknown factor {label!r}; factors are {names}")
        label = names.index(label)
    return np.asarray(factors)[:, int(label)]


def _split_xy(model: Any, dataset: Any, split: Any, n: int | None, rng: np.random.Generator,
              which: str, label: str | int | None):
    if split is None:
        raise CircuitVAEError(f"downstream AUC needs a {which} split")
    x, y = split.x, _labels(dataset, split, label, which)
    if n is not None and len(y) > n:
        idx = np.sort(rng.choice(len(y), size=n, replace=False))
        x, y = x[idx], y[idx]
    return check_input(model, x, name=f"{which}.x"), y


def downstream_auc(
    model: Any,
    dataset: Any,
    *,
    n_train: int | None = 10000,
    n_test: int | None = None,
    seed: int = 0,
    label: str | int | None = None,
    max_batch_rows: int | None = None,
) -> DownstreamResult:
    """ROC-AUC of a logistic regression on mu(x).

    Fit on mu of (up to ``n_train`` rows of) the train split, scored on mu of the test split
    [paper: logistic regression on the latent representation]. [our choice] mu is standardized
    (a StandardScaler fitted on the train codes) before an L2 LogisticRegression (C = 1,
    lbfgs, max_iter = 1000): without it a well-regularized model's tiny codes would be
    under-fitted by the default penalty. More than two classes (dSprites shape): one-vs-rest
    macro-averaged AUC. Labels: ``split.y``; when a split has none, the ground-truth factor
    ``label`` (a name in ``dataset.factor_names`` or an index; default ``"shape"`` when the
    dataset has that factor, the papers' dSprites label).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_int("n_train", n_train, minimum=1, allow_none=True)
    check_int("n_test", n_test, minimum=1, allow_none=True)
    check_int("seed", seed, minimum=0)
    if not isinstance(dataset, DatasetLike):
        raise CircuitVAEError("downstream AUC needs a dataset with train and test splits")
    rng = np.random.default_rng(seed)
    x_tr, y_tr = _split_xy(model, dataset, dataset.train, n_train, rng, "train", label)
    x_te, y_te = _split_xy(model, dataset, dataset.test, n_test, rng, "test", label)
    mu_tr = encode_all(model, x_tr, max_batch_rows=max_batch_rows).mean.cpu().numpy()
    mu_te = encode_all(model, x_te, max_batch_rows=max_batch_rows).mean.cpu().numpy()
    classes = np.unique(y_tr)
    if len(classes) < 2:
        raise CircuitVAEError("downstream AUC needs at least two classes in the train split")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    clf.fit(mu_tr, y_tr)
    proba = clf.predict_proba(mu_te)
    if len(classes) == 2:
        auc = roc_auc_score(y_te, proba[:, 1])
    else:
        auc = roc_auc_score(y_te, proba, multi_class="ovr", average="macro", labels=classes)
    return DownstreamResult(
        value=float(auc), n_classes=len(classes), n_train=len(y_tr), n_test=len(y_te),
        multiclass=len(classes) > 2,
    )
