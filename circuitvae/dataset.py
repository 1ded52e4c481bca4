"""Your own data, in the shape every metric reads: :class:`Dataset`.

``cv.Dataset(train=x_train, test=x_test)`` is enough for the causal metrics (CES, specificity
over output elements, patching, mediation). Declaring more switches more metrics on:

* ``features`` and ``groups`` (tabular data): the input features and their semantic groups, for
  specificity over feature groups, circuit modularity (group swaps, with the random control),
  FGD and the reconstruction breakdown;
* ``labels``: the downstream label, for the downstream AUC;
* ``factors``: ground-truth factor classes, for DCI, MIG and SAP (on the test split's rows).

Nothing is guessed from the shape: a flat ``(N, 784)`` image array without ``features`` is not
784 feature groups; the metrics that need groups say that none were declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .protocol import (
    CircuitVAEError,
    Feature,
    Split,
    as_tensor,
    check_feature_groups,
    column_groups,
)

SplitLike = Any  # a Split, a tensor, an array


def _pair(value: Any, what: str) -> tuple[Any, Any]:
    """(train, test) values of ``labels`` / ``factors``: a 2-tuple, a mapping with train/test,
    or one array for the test split only."""
    if value is None:
        return None, None
    if isinstance(value, tuple) and len(value) == 2:
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"train", "test"})
        if unknown:
            raise CircuitVAEError(f"{what} has keys {unknown}; use 'train' and 'test'")
        return value.get("train"), value.get("test")
    return None, value


def _split(x: SplitLike, y: Any, factors: Any, name: str) -> Split:
    if isinstance(x, Split):
        if y is not None or factors is not None:
            raise CircuitVAEError(f"{name} is a Split already: give its labels and factors "
                                  "inside it, not as labels= / factors=")
        x, y, factors = x.x, x.y, x.factors
    t = as_tensor(x, name=name)
    n = int(t.shape[0])
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise CircuitVAEError(f"labels of {name} have shape {y.shape}; expected ({n},)")
    if factors is not None:
        factors = np.asarray(factors)
        if factors.ndim == 1:
            factors = factors[:, None]
        if factors.ndim != 2 or len(factors) != n:
            raise CircuitVAEError(f"factors of {name} have shape {factors.shape}; expected "
                                  f"({n}, K)")
        if factors.dtype.kind not in "biu":
            raise CircuitVAEError(f"factors of {name} must be integer classes, got dtype "
                                  f"{factors.dtype}")
    return Split(t.float() if not t.is_floating_point() else t, y, factors)


def _feature(f: Any) -> Feature:
    if isinstance(f, Feature):
        return f
    if isinstance(f, Mapping):
        try:
            return Feature(str(f["name"]), f.get("kind", "numeric"),
                           tuple(int(c) for c in f["columns"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CircuitVAEError(f"feature {dict(f)} needs 'name' and 'columns' (and 'kind': "
                                  f"numeric or categorical): {e}") from e
    if isinstance(f, str):
        raise CircuitVAEError("features mixes names and Feature objects; use one form")
    raise CircuitVAEError(f"a feature must be a circuitvae.Feature, a dict or a name, got "
                          f"{type(f).__name__}")


def _features(features: Any, n_columns: int) -> list[Feature] | None:
    if features is None:
        return None
    features = list(features)
    if features and all(isinstance(f, str) for f in features):
        # a list of names: one numeric column each, in order
        if len(features) != n_columns:
            raise CircuitVAEError(f"{len(features)} feature names for {n_columns} columns; "
                                  "give Feature objects for one-hot blocks")
        out = [Feature(n, "numeric", (i,)) for i, n in enumerate(features)]
    else:
        out = [_feature(f) for f in features]
    for f in out:
        if f.kind not in ("numeric", "categorical"):
            raise CircuitVAEError(f"feature {f.name!r} has kind {f.kind!r}; use numeric or "
                                  "categorical")
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        raise CircuitVAEError("feature names are not unique")
    column_groups({f.name: f.columns for f in out}, n_columns)  # a partition of the columns
    return out


class Dataset:
    """A dataset of your own, accepted everywhere a zoo dataset is.

    ``train`` and ``test``: tensors or arrays ``(N, *input_shape)`` (or :class:`Split`).
    ``labels``, ``factors``: ``(train_values, test_values)``, a mapping with ``"train"`` /
    ``"test"``, or one array for the test split. ``features``: :class:`Feature` objects (a
    categorical owns its one-hot block), dicts with ``name``/``kind``/``columns``, or one name
    per column (all numeric); ``groups``: group name -> feature names, a partition of the
    features. ``factor_names`` name the factor columns.
    """

    def __init__(
        self,
        train: SplitLike,
        test: SplitLike | None = None,
        *,
        name: str = "dataset",
        features: Sequence[Any] | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
        labels: Any = None,
        factors: Any = None,
        factor_names: Sequence[str] | None = None,
    ) -> None:
        if test is None:
            raise CircuitVAEError("Dataset needs a test split (the metrics read it); pass "
                                  "test= (it may be the same data as train)")
        y_tr, y_te = _pair(labels, "labels")
        f_tr, f_te = _pair(factors, "factors")
        self.name = str(name)
        self.train = _split(train, y_tr, f_tr, "train")
        self.test = _split(test, y_te, f_te, "test")
        if tuple(self.train.x.shape[1:]) != tuple(self.test.x.shape[1:]):
            raise CircuitVAEError(f"train rows have shape {tuple(self.train.x.shape[1:])}, "
                                  f"test rows {tuple(self.test.x.shape[1:])}")
        row = tuple(self.test.x.shape[1:])
        if (features is not None or groups is not None) and len(row) != 1:
            raise CircuitVAEError(f"features and groups describe tabular (N, columns) rows; "
                                  f"these rows have shape {row}")
        self.features = _features(features, row[0]) if features is not None else None
        if groups is not None and self.features is None:
            raise CircuitVAEError("groups name features: pass features= too")
        self.groups = _groups(groups, self.features) if groups is not None else None
        if factors is not None:
            k = next(f.shape[1] for f in (self.train.factors, self.test.factors)
                     if f is not None)
            if factor_names is not None and len(factor_names) != k:
                raise CircuitVAEError(f"{len(factor_names)} factor_names for {k} factors")
            self.factor_names = (list(factor_names) if factor_names is not None
                                 else [f"factor_{j}" for j in range(k)])

    def __repr__(self) -> str:
        extra = [k for k in ("features", "groups") if getattr(self, k, None)]
        if self.test.y is not None:
            extra.append("labels")
        if self.test.factors is not None:
            extra.append("factors")
        return (f"Dataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"rows={tuple(self.test.x.shape[1:])}"
                + (f", with {', '.join(extra)}" if extra else "") + ")")


def _groups(groups: Mapping[str, Sequence[str]], features: list[Feature]) -> dict[str, list[str]]:
    out = {str(g): [str(m) for m in members] for g, members in groups.items()}
    check_feature_groups(out, [f.name for f in features])
    return out


__all__ = ["Dataset"]
