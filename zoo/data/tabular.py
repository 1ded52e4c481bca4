"""Tabular datasets: preprocessing into model space and feature groupings.

Model space [our choice, documented in docs/data.md]: every numeric feature is one column,
standardized ``(v - mean) / std`` with the mean and (population, ddof=0) std of the full train
split (a constant column gets std 1); every categorical feature is a one-hot block over the
categories seen in the train split, sorted (numerically when all categories are integers). A test
row whose category was not seen in training gets an all-zero block. The label is never part of
the input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

from circuitvae.protocol import CircuitVAEError, Feature, Split, check_feature_groups, column_groups

GroupKind = Literal["semantic", "correlation", "random"]
CORRELATION_TAU = 0.5


@dataclass(frozen=True)
class RawTable:
    """A parsed table before encoding: feature frame, binary label, optional official split.

    ``frame`` holds numeric features as float and categorical ones as str. ``is_test`` marks the
    rows of an official test file (``None``: no official split).
    """

    frame: pd.DataFrame
    y: np.ndarray
    is_test: np.ndarray | None = None


def _sort_categories(values: Sequence[str]) -> list[str]:
    try:
        return sorted(values, key=lambda v: int(v))
    except ValueError:
        return sorted(values)


@dataclass(frozen=True)
class Encoding:
    """The fitted train-split encoding: per numeric feature (mean, std), per categorical its
    category list, and the model-space column name of every column."""

    features: tuple[Feature, ...]
    stats: Mapping[str, tuple[float, float]]
    categories: Mapping[str, tuple[str, ...]]
    column_names: tuple[str, ...]

    @classmethod
    def fit(cls, frame: pd.DataFrame, kinds: Mapping[str, str]) -> Encoding:
        features, stats, cats, names = [], {}, {}, []
        col = 0
        for name in frame.columns:
            kind = kinds[name]
            if kind == "numeric":
                v = frame[name].to_numpy(dtype=np.float64)
                std = float(v.std())
                stats[name] = (float(v.mean()), std if std > 0 else 1.0)
                features.append(Feature(name, "numeric", (col,)))
                names.append(name)
                col += 1
            elif kind == "categorical":
                levels = tuple(_sort_categories(pd.unique(frame[name].astype(str))))
                cats[name] = levels
                features.append(Feature(name, "categorical", tuple(range(col, col + len(levels)))))
                names += [f"{name}={lv}" for lv in levels]
                col += len(levels)
            else:
                raise CircuitVAEError(f"feature {name!r} has unknown kind {kind!r}")
        return cls(tuple(features), stats, cats, tuple(names))

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, int]:
        """Encode ``frame``; returns the float32 matrix and the count of unseen category cells."""
        out = np.zeros((len(frame), len(self.column_names)), dtype=np.float32)
        unseen = 0
        for f in self.features:
            if f.kind == "numeric":
                mean, std = self.stats[f.name]
                out[:, f.columns[0]] = (frame[f.name].to_numpy(np.float64) - mean) / std
            else:
                levels = self.categories[f.name]
                code = pd.Index(levels).get_indexer(frame[f.name].astype(str))
                ok = code >= 0
                unseen += int((~ok).sum())
                out[np.nonzero(ok)[0], np.asarray(f.columns)[code[ok]]] = 1.0
        return out, unseen


def _subsample(idx: np.ndarray, n: int | None, rng: np.random.Generator, what: str) -> np.ndarray:
    if n is None or n >= len(idx):
        return idx
    if n < 1:
        raise CircuitVAEError(f"{what} must be >= 1, got {n}")
    return np.sort(rng.choice(idx, size=n, replace=False))


def split_indices(
    y: np.ndarray,
    is_test: np.ndarray | None,
    *,
    seed: int,
    test_size: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Official split when ``is_test`` is given, else a seeded stratified split by ``y``."""
    if is_test is not None:
        return np.nonzero(~is_test)[0], np.nonzero(is_test)[0]
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(
        np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed
    )
    return np.sort(tr), np.sort(te)


# --------------------------------------------------------------------------- associations


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float(abs((ra * rb).sum()) / den) if den > 0 else 0.0


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramer's V = sqrt(chi2 / (n * (min(r, c) - 1))) of two integer-coded variables
    (no bias correction) [our choice]."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    r, c = ai.max() + 1, bi.max() + 1
    if min(r, c) < 2:
        return 0.0
    table = np.bincount(ai * c + bi, minlength=r * c).reshape(r, c).astype(np.float64)
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (n * (min(r, c) - 1))))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio eta = sqrt(sum_k n_k (mean_k - mean)^2 / sum_i (v_i - mean)^2)."""
    _, ci = np.unique(codes, return_inverse=True)
    values = values.astype(np.float64)
    total = ((values - values.mean()) ** 2).sum()
    if total == 0:
        return 0.0
    counts = np.bincount(ci)
    means = np.bincount(ci, weights=values) / counts
    between = (counts * (means - values.mean()) ** 2).sum()
    return float(np.sqrt(between / total))


def association_matrix(x: np.ndarray, features: Sequence[Feature]) -> np.ndarray:
    """|Spearman| (numeric pairs), Cramer's V (categorical pairs), correlation ratio (mixed)
    between features, from the model-space matrix ``x`` (a one-hot block's argmax is the
    category; standardization does not change Spearman)."""
    cols = []
    for f in features:
        if f.kind == "numeric":
            cols.append(x[:, f.columns[0]])
        else:
            cols.append(np.argmax(x[:, list(f.columns)], axis=1))
    k = len(features)
    a = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            ki, kj = features[i].kind, features[j].kind
            if ki == kj == "numeric":
                v = _spearman(cols[i], cols[j])
            elif ki == kj == "categorical":
                v = cramers_v(cols[i], cols[j])
            elif ki == "categorical":
                v = correlation_ratio(cols[i], cols[j])
            else:
                v = correlation_ratio(cols[j], cols[i])
            a[i, j] = a[j, i] = v
    return a


def correlation_clusters(assoc: np.ndarray, tau: float = CORRELATION_TAU) -> np.ndarray:
    """Cluster labels 0.. (numbered by first feature) from average-linkage hierarchical
    clustering on distance ``1 - assoc`` cut at ``1 - tau`` [our choice]."""
    k = len(assoc)
    if k == 1:
        return np.zeros(1, dtype=int)
    dist = np.clip(1.0 - assoc, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    labels = fcluster(linkage(squareform(dist, checks=False), "average"), 1 - tau, "distance")
    order = {lab: i for i, lab in enumerate(dict.fromkeys(labels))}
    return np.array([order[lab] for lab in labels])


# --------------------------------------------------------------------------- dataset


@dataclass
class TabularDataset:
    """A tabular benchmark: model-space splits plus everything the metrics need.

    ``features``: model-space layout; ``groups``: semantic group -> feature names (a partition of
    the features); ``label_name``: the held-out label; ``provenance``: files + sha256 (or
    "procedural") and preprocessing notes; ``encoding``: the fitted train-split statistics.
    Synthetic data (``planted``) also has ``factor_names``/``factor_sizes`` and raw
    ``factor_values`` per split.
    """

    name: str
    train: Split
    test: Split
    features: list[Feature]
    groups: dict[str, list[str]]
    label_name: str
    provenance: dict[str, Any]
    encoding: Encoding
    factor_names: tuple[str, ...] | None = None
    factor_sizes: tuple[int, ...] | None = None
    factor_values: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_feature_groups(self.groups, [f.name for f in self.features], what="semantic group")

    @property
    def n_columns(self) -> int:
        return len(self.encoding.column_names)

    @property
    def input_shape(self) -> tuple[int]:
        return (self.n_columns,)

    @property
    def column_names(self) -> tuple[str, ...]:
        return self.encoding.column_names

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise CircuitVAEError(f"{self.name} has no feature {name!r}")

    def feature_columns(self) -> dict[str, list[int]]:
        """Singleton groups: feature name -> its model-space columns."""
        return {f.name: list(f.columns) for f in self.features}

    def _columns_of(self, groups: Mapping[str, Sequence[str]]) -> dict[str, list[int]]:
        out = {g: [c for m in members for c in self.feature(m).columns]
               for g, members in groups.items()}
        column_groups(out, self.n_columns)
        return out

    def feature_groups(self, kind: GroupKind = "semantic", seed: int = 0) -> dict[str, list[str]]:
        """Group name -> feature names for the semantic, correlation or random grouping.

        correlation: clusters of :func:`correlation_clusters` on the train split
        (tau = 0.5) [our choice]; random: whole features shuffled with ``seed`` and cut into the
        semantic groups' feature counts (in the semantic groups' order) [our choice], for the
        metrics that need whole features (FGD). The random control of the interventions is
        column-level: see :meth:`group_columns`.
        """
        if kind == "semantic":
            return {g: list(m) for g, m in self.groups.items()}
        if kind == "correlation":
            labels = self._correlation_labels()
            out: dict[str, list[str]] = {}
            for f, lab in zip(self.features, labels, strict=True):
                out.setdefault(f"cluster_{lab}", []).append(f.name)
            return out
        if kind == "random":
            names = [f.name for f in self.features]
            perm = np.random.default_rng(seed).permutation(len(names))
            out, start = {}, 0
            for i, members in enumerate(self.groups.values()):
                out[f"random_{i}"] = [names[j] for j in perm[start:start + len(members)]]
                start += len(members)
            return out
        raise CircuitVAEError(
            f"unknown grouping kind {kind!r}; use 'semantic', 'correlation' or 'random'"
        )

    def _correlation_labels(self) -> np.ndarray:
        """Cluster labels of the features on the train split, computed once per train tensor
        (the association matrix costs tens of ms and every analysis asks for it)."""
        x = self.train.x
        key = (x._version, tuple(f.name for f in self.features))  # in-place edits bump _version
        cached = self.__dict__.get("_correlation_cache")
        if cached is None or cached[0] is not x or cached[1] != key:
            labels = correlation_clusters(association_matrix(x.numpy(), self.features),
                                          CORRELATION_TAU)
            self.__dict__["_correlation_cache"] = (x, key, labels)
            return labels
        return cached[2]

    def group_columns(self, kind: GroupKind = "semantic", seed: int = 0) -> dict[str, list[int]]:
        """Group name -> model-space columns (a validated partition of all columns).

        ``"random"`` is the control of methods.md section 1: the model-space columns shuffled
        with ``seed`` and cut into groups of the semantic groups' column counts (in their order),
        so a random group may hold part of a categorical's one-hot block.
        """
        if kind == "random":
            sizes = [len(cols) for cols in self._columns_of(self.groups).values()]
            perm = np.random.default_rng(seed).permutation(self.n_columns)
            cuts = np.cumsum([0, *sizes])
            out = {f"random_{i}": sorted(int(c) for c in perm[cuts[i]:cuts[i + 1]])
                   for i in range(len(sizes))}
            column_groups(out, self.n_columns)
            return out
        return self._columns_of(self.feature_groups(kind, seed))

    def __repr__(self) -> str:
        return (f"TabularDataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"features={len(self.features)}, columns={self.n_columns})")


def build_tabular(
    name: str,
    raw: RawTable,
    kinds: Mapping[str, str],
    groups: Mapping[str, Sequence[str]],
    label_name: str,
    provenance: dict[str, Any],
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    factors: np.ndarray | None = None,
    factor_values: np.ndarray | None = None,
    **factor_info: Any,
) -> TabularDataset:
    """Split, fit the encoding on the full train split, subsample, encode."""
    tr, te = split_indices(raw.y, raw.is_test, seed=seed)
    enc = Encoding.fit(raw.frame.iloc[tr], kinds)
    rng = np.random.default_rng([seed, 7])
    tr = _subsample(tr, n_train, rng, "n_train")
    te = _subsample(te, n_test, rng, "n_test")

    def make(idx: np.ndarray) -> tuple[Split, int]:
        x, unseen = enc.transform(raw.frame.iloc[idx])
        f = None if factors is None else factors[idx]
        return Split(torch.from_numpy(x), raw.y[idx].astype(np.int64), f), unseen

    train, _ = make(tr)
    test, unseen = make(te)
    prov = dict(provenance)
    prov["split"] = prov.get("split") or (
        "official train/test files" if raw.is_test is not None
        else f"stratified 80/20 by label, seed {seed}"
    )
    prov["n_train"], prov["n_test"] = len(tr), len(te)
    prov["unseen_test_categories"] = unseen
    values = {}
    if factor_values is not None:
        values = {"train": factor_values[tr], "test": factor_values[te]}
    return TabularDataset(
        name, train, test, list(enc.features), {g: list(m) for g, m in groups.items()},
        label_name, prov, enc, factor_values=values, **factor_info,
    )
