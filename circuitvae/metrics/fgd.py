"""FGD, Feature-Group Disentanglement.

[seed: a generalization of DCI disentanglement to groups of correlated features, reducing to
DCI when every feature is its own group (Proposition 3)]; the exact definition below is
[our choice].

``R[j, f]`` = importance of latent ``z_j`` for predicting feature f: ``|feature_importances_|``
of gradient-boosted trees on the latent means (a classifier for a categorical feature, a
regressor for a numeric one), computed by the same code as DCI's importance matrix.
``R^G[j, g] = sum_{f in g} R[j, f]`` and ``FGD = sum_j rho_j (1 - H_G(R^G_j / sum_g R^G_jg))``
with ``rho_j = sum_g R^G_jg / sum R^G``: DCI disentanglement of ``R^G``
(:func:`circuitvae.metrics.dci.dci_from_importance`, with its 1e-11 smoothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from ..interventions.batching import encode_all
from ..protocol import (
    CircuitVAEError,
    ColumnGroups,
    DatasetLike,
    Feature,
    column_groups,
    dataset_name,
    feature_groups_of,
    features_of,
    resolve_inputs,
)
from ._importance import (
    SKLEARN_VERSION,
    Estimator,
    Kind,
    as_matrix,
    check_classes,
    check_not_constant,
    gbt_importance,
)
from .dci import dci_from_importance

#: Rows per encoder pass of :func:`fgd` (its ``batch_size``).
DEFAULT_BATCH_SIZE = 512


@dataclass(frozen=True)
class FGDResult:
    """``value`` = FGD. ``importance`` ``(d, G)`` is the group importance ``R^G``;
    ``feature_importance`` ``(d, F)`` the per-feature ``R``; ``completeness`` is DCI
    completeness of ``R^G`` (how few latents carry each group), reported beside it."""

    value: float
    importance: np.ndarray = field(repr=False)
    feature_importance: np.ndarray = field(repr=False)
    group_names: tuple[str, ...] = ()
    completeness: float = float("nan")
    feature_names: tuple[str, ...] = ()
    sklearn_version: str = SKLEARN_VERSION


def _partition(groups: Mapping[str, Sequence[int]], n_features: int) -> ColumnGroups:
    try:
        return column_groups(groups, n_features)
    except CircuitVAEError as err:
        msg = str(err).replace("columns", "features").replace("column", "feature")
        raise CircuitVAEError(
            f"feature groups must partition the {n_features} features: {msg}"
        ) from None


def group_importance(
    feature_importance: np.ndarray, groups: Mapping[str, Sequence[int]]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """``R^G[:, g] = sum_{f in g} R[:, f]``; ``groups`` must partition the F features."""
    r = np.asarray(feature_importance, dtype=np.float64)
    cg = _partition(groups, r.shape[1])
    out = np.stack([r[:, list(cols)].sum(axis=1) for cols in cg.columns], axis=1)
    return out, cg.names


def fgd_from_features(
    codes: Any,
    features: Any,
    feature_kinds: Sequence[Kind],
    groups: Mapping[str, Sequence[int]],
    *,
    seed: int = 0,
    n_estimators: int = 100,
    estimator: Estimator = None,
    feature_names: Sequence[str] | None = None,
    n_jobs: int | None = None,
) -> FGDResult:
    """FGD of codes ``(N, d)`` for per-feature targets ``(N, F)``.

    ``features[:, f]`` is the target of feature f: a class label when
    ``feature_kinds[f] == "categorical"``, a number when ``"numeric"``. ``groups`` maps a group
    name to feature indices and must partition ``0..F-1`` (at least 2 groups). One tree model
    per feature is fitted on all N rows (``random_state=seed``; ``n_estimators`` and
    ``estimator`` (``"sklearn"``, ``"lightgbm"`` or a factory) as in
    :func:`circuitvae.metrics.dci.dci`). With singleton groups and
    categorical features this is exactly DCI disentanglement fitted on the same rows.
    """
    c = as_matrix(codes, "codes")
    t = as_matrix(features, "features", n_rows=c.shape[0])
    kinds = list(feature_kinds)
    if len(kinds) != t.shape[1]:
        raise CircuitVAEError(
            f"feature_kinds has {len(kinds)} entries for {t.shape[1]} feature columns"
        )
    bad = [k for k in kinds if k not in ("categorical", "numeric")]
    if bad:
        raise CircuitVAEError(f"unknown feature kind {bad[0]!r}; use 'categorical' or 'numeric'")
    names = (
        tuple(feature_names) if feature_names is not None else tuple(map(str, range(len(kinds))))
    )
    cat = [f for f, k in enumerate(kinds) if k == "categorical"]
    if cat:
        check_classes(t[:, cat], "categorical feature targets")
    check_not_constant(t, "features", names)
    if len(_partition(groups, t.shape[1])) < 2:
        raise CircuitVAEError("FGD needs at least 2 feature groups (entropy base G)")
    fit = gbt_importance(c, t, kinds, seed=seed, n_estimators=n_estimators, estimator=estimator,
                         n_jobs=n_jobs)
    r_groups, group_names = group_importance(fit.importance, groups)
    d_score, c_score = dci_from_importance(r_groups)
    return FGDResult(
        value=d_score,
        importance=r_groups,
        feature_importance=fit.importance,
        group_names=group_names,
        completeness=c_score,
        feature_names=names,
    )


def feature_targets(x: np.ndarray, features: Sequence[Feature]) -> tuple[np.ndarray, list[Kind]]:
    """Per-feature targets from model-space rows: argmax of a categorical's one-hot block, the
    column value of a numeric feature."""
    cols: list[np.ndarray] = []
    kinds: list[Kind] = []
    for feat in features:
        idx = list(feat.columns)
        if not idx or max(idx) >= x.shape[1] or min(idx) < 0:
            raise CircuitVAEError(
                f"feature {feat.name!r} names columns {feat.columns} outside the "
                f"{x.shape[1]} input columns"
            )
        if feat.kind == "categorical":
            cols.append(np.argmax(x[:, idx], axis=1).astype(np.float64))
        elif feat.kind == "numeric":
            if len(idx) != 1:
                raise CircuitVAEError(f"numeric feature {feat.name!r} must own one column")
            cols.append(x[:, idx[0]].astype(np.float64))
        else:
            raise CircuitVAEError(f"feature {feat.name!r} has unknown kind {feat.kind!r}")
        kinds.append(feat.kind)
    return np.stack(cols, axis=1), kinds


def _group_indices(
    groups: Mapping[str, Sequence[str | int]] | str, features: Sequence[Feature]
) -> dict[str, list[int]]:
    names = [f.name for f in features]
    if isinstance(groups, str):
        if groups == "singleton":
            return {n: [i] for i, n in enumerate(names)}
        raise CircuitVAEError(f"unknown groups {groups!r}; give a mapping or 'singleton'")
    index = {n: i for i, n in enumerate(names)}
    out: dict[str, list[int]] = {}
    for gname, members in groups.items():
        ids = []
        for m in members:
            if isinstance(m, str):
                if m not in index:
                    raise CircuitVAEError(
                        f"group {gname!r} names unknown feature {m!r}; features are "
                        f"{', '.join(names)}"
                    )
                ids.append(index[m])
            else:
                ids.append(int(m))
        out[str(gname)] = ids
    return out


def fgd(
    model: Any,
    data: Any,
    groups: Mapping[str, Sequence[str | int]] | str | None = None,
    *,
    n: int = 1000,
    seed: int = 0,
    split: str = "test",
    n_estimators: int = 100,
    estimator: Estimator = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    n_jobs: int | None = None,
) -> FGDResult:
    """FGD of a model on a tabular dataset.

    ``data`` offers ``features`` (a list of :class:`circuitvae.Feature` with model-space
    columns) and a split (``split``, default test); ``n`` rows are drawn with ``seed``. Groups:
    ``groups`` (group -> feature names or indices), ``"singleton"`` (each feature its own
    group: DCI disentanglement with the features as factors), or by default ``data.groups``.
    Latent codes are the encoder means (encoded in chunks of ``batch_size`` rows); the targets
    are read from the same input rows.
    """
    features, index_groups = fgd_groups(data, groups)
    x = resolve_inputs(data, model, split=split, n=n, seed=seed)
    codes = encode_all(model, x, max_batch_rows=batch_size).mean
    return fgd_of_rows(x, codes, features, index_groups, seed=seed, n_estimators=n_estimators,
                       estimator=estimator, n_jobs=n_jobs)


def fgd_groups(
    data: Any, groups: Mapping[str, Sequence[str | int]] | str | None = None
) -> tuple[Sequence[Feature], dict[str, list[int]]]:
    """The features of a tabular dataset and ``groups`` (default: its feature groups) as
    group name -> feature indices; an error when the dataset has no features or groups."""
    features = features_of(data)
    if not isinstance(data, DatasetLike) or features is None:
        raise CircuitVAEError(
            "fgd needs a tabular dataset with a test split and `features` (list of Feature); "
            "for raw arrays use fgd_from_features(codes, targets, kinds, groups)"
        )
    if groups is None:
        groups = feature_groups_of(data)
        if groups is None:
            raise CircuitVAEError(
                f"dataset {dataset_name(data)!r} declares no feature groups; pass "
                "groups={name: [feature names]} or groups='singleton'"
            )
    return features, _group_indices(groups, features)


def fgd_of_rows(
    x: Tensor,
    codes: Tensor,
    features: Sequence[Feature],
    groups: Mapping[str, Sequence[int]],
    *,
    seed: int = 0,
    n_estimators: int = 100,
    estimator: Estimator = None,
    n_jobs: int | None = None,
) -> FGDResult:
    """FGD of model-space rows ``x`` ``(N, columns)`` and their latent means ``codes``
    ``(N, d)``: the per-feature targets are read from ``x`` (:func:`feature_targets`), and
    ``groups`` maps a group name to feature indices."""
    x_np = x.detach().cpu().numpy().reshape(x.shape[0], -1)
    targets, kinds = feature_targets(x_np, features)
    return fgd_from_features(
        codes.detach().cpu().double().numpy(),
        targets,
        kinds,
        groups,
        seed=seed,
        n_estimators=n_estimators,
        estimator=estimator,
        feature_names=[f.name for f in features],
        n_jobs=n_jobs,
    )


def fgd_regroup(result: FGDResult, groups: Mapping[str, Sequence[str | int]]) -> FGDResult:
    """FGD of an earlier fit under another grouping of the same features, without refitting.

    The per-feature importance ``R`` does not depend on the grouping, so
    ``fgd_regroup(fgd(m, data, A), B)`` equals ``fgd(m, data, B)`` (same rows and seed) at the
    cost of one matrix sum. ``groups`` names features by name or index.
    """
    names = result.feature_names
    index = {n: i for i, n in enumerate(names)}
    resolved: dict[str, list[int]] = {}
    for gname, members in groups.items():
        ids = []
        for m in members:
            if isinstance(m, str) and m not in index:
                raise CircuitVAEError(
                    f"group {gname!r} names unknown feature {m!r}; features are "
                    f"{', '.join(names)}"
                )
            ids.append(index[m] if isinstance(m, str) else int(m))
        resolved[str(gname)] = ids
    if len(_partition(resolved, len(names))) < 2:
        raise CircuitVAEError("FGD needs at least 2 feature groups (entropy base G)")
    r_groups, group_names = group_importance(result.feature_importance, resolved)
    d_score, c_score = dci_from_importance(r_groups)
    return FGDResult(value=d_score, importance=r_groups,
                     feature_importance=result.feature_importance, group_names=group_names,
                     completeness=c_score, feature_names=names,
                     sklearn_version=result.sklearn_version)
