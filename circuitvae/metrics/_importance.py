"""Shared pieces of the supervised disentanglement metrics: input checks, the train/test split,
and the gradient-boosted-tree importance matrix that DCI and FGD both use.

Arrays are row-major as in scikit-learn: ``codes`` ``(N, d)``, ``factors`` ``(N, K)``.
disentanglement_lib passes the transposes (``mus`` ``(d, N)``, ``ys`` ``(K, N)``); every formula
here is the reference one with the axes swapped accordingly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from ..protocol import CircuitVAEError

Kind = Literal["categorical", "numeric"]
EstimatorFactory = Callable[[Kind], Any]
#: ``"sklearn"`` (the papers' gradient-boosted trees), ``"lightgbm"`` (the same model family,
#: histogram-based, much faster) or a factory ``kind -> unfitted estimator``
Estimator = Literal["sklearn", "lightgbm"] | EstimatorFactory | None
ESTIMATORS: tuple[str, ...] = ("sklearn", "lightgbm")

SKLEARN_VERSION: str = sklearn.__version__


def as_matrix(a: Any, name: str, *, n_rows: int | None = None) -> np.ndarray:
    """``a`` as a finite 2-D float64 array ``(N, k)``; a 1-D array becomes one column."""
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise CircuitVAEError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise CircuitVAEError(f"{name} must be 2-D (N, k) row-major, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CircuitVAEError(f"{name} is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise CircuitVAEError(f"{name} contains NaN or Inf values")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise CircuitVAEError(
            f"{name} has {arr.shape[0]} rows but the codes have {n_rows}; rows must align "
            "(arrays are row-major: (N, d) codes, (N, K) factors)"
        )
    return arr


def check_classes(factors: np.ndarray, name: str = "factors") -> np.ndarray:
    """Require integer-valued classes (the reference metrics assume discrete factors)."""
    if not np.all(factors == np.round(factors)):
        raise CircuitVAEError(
            f"{name} must hold integer classes; continuous factors are not supported by this "
            "metric (disentanglement_lib issue 25): bin them first, e.g. with np.digitize"
        )
    return factors.astype(np.int64)


def check_not_constant(targets: np.ndarray, name: str, labels: Sequence[str] | None = None):
    """Raise if a target column takes a single value (no classifier or entropy is defined)."""
    for k in range(targets.shape[1]):
        if np.all(targets[:, k] == targets[0, k]):
            label = labels[k] if labels is not None else str(k)
            raise CircuitVAEError(
                f"{name} column {label} takes a single value ({targets[0, k]:g}) in the rows "
                "used; the metric is undefined for a constant target: drop it or use more rows"
            )


def split_rows(n: int, n_train: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test row indices [our choice].

    ``n_train`` defaults to ``round(2 n / 3)``, the 10000:5000 train:test ratio of the
    disentanglement_lib study; the permutation comes from ``np.random.default_rng(seed)``.
    """
    if n_train is None:
        n_train = int(round(2 * n / 3))
    if not 1 <= n_train < n:
        raise CircuitVAEError(
            f"n_train={n_train} must be between 1 and N-1={n - 1} so that test rows remain"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


@dataclass(frozen=True)
class TrainTest:
    codes_train: np.ndarray
    targets_train: np.ndarray
    codes_test: np.ndarray
    targets_test: np.ndarray


def train_test(
    codes: Any,
    factors: Any,
    codes_test: Any | None,
    factors_test: Any | None,
    *,
    n_train: int | None,
    seed: int,
) -> TrainTest:
    """Checked train and test arrays: the given test arrays, or a seeded split of the rows."""
    c = as_matrix(codes, "codes")
    f = as_matrix(factors, "factors", n_rows=c.shape[0])
    if (codes_test is None) != (factors_test is None):
        raise CircuitVAEError("give both codes_test and factors_test, or neither")
    if codes_test is None:
        tr, te = split_rows(c.shape[0], n_train, seed)
        return TrainTest(c[tr], f[tr], c[te], f[te])
    ct = as_matrix(codes_test, "codes_test")
    ft = as_matrix(factors_test, "factors_test", n_rows=ct.shape[0])
    if ct.shape[1] != c.shape[1] or ft.shape[1] != f.shape[1]:
        raise CircuitVAEError(
            f"test arrays have {ct.shape[1]} codes / {ft.shape[1]} factors, train arrays "
            f"{c.shape[1]} / {f.shape[1]}"
        )
    return TrainTest(c, f, ct, ft)


def default_estimator(kind: Kind, *, seed: int, n_estimators: int = 100) -> Any:
    """``GradientBoostingClassifier`` (categorical) or ``GradientBoostingRegressor`` (numeric).

    sklearn defaults as disentanglement_lib [paper], except ``random_state=seed`` [our choice:
    the reference leaves it ``None``, so tie-breaking between equally good splits is not
    reproducible] and an optional smaller ``n_estimators`` (default 100 = sklearn's).
    """
    if kind == "categorical":
        return GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
    if kind == "numeric":
        return GradientBoostingRegressor(n_estimators=n_estimators, random_state=seed)
    raise CircuitVAEError(f"unknown feature kind {kind!r}; use 'categorical' or 'numeric'")


def lightgbm_estimator(kind: Kind, *, seed: int, n_estimators: int = 100) -> Any:
    """LightGBM's ``LGBMClassifier`` / ``LGBMRegressor``, set up as sklearn's default GBT.

    [our choice] ``n_estimators`` stages at learning rate 0.1 of trees of depth <= 3 (at most 8
    leaves); no row or column subsampling and no regularisation; ``min_child_samples=1``
    (sklearn's ``min_samples_leaf``). LightGBM's own hessian floor ``min_child_weight=1e-3`` is
    kept: without it LightGBM can abort on an empty split. Deterministic and single-threaded
    (the fits run in parallel across targets). ``importance_type="gain"`` is the total loss
    reduction of the splits on each feature, the quantity that sklearn's impurity importance
    sums; :func:`gbt_importance` normalises it to sum 1 per model, as sklearn does.

    Differences that remain: LightGBM splits on histograms of at most 255 bins, grows trees
    leaf-wise inside the depth limit, and scores splits with second-order gains where sklearn
    uses Friedman's MSE on the gradients.
    """
    try:
        import lightgbm
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise CircuitVAEError(
            "estimator='lightgbm' needs the lightgbm package: pip install lightgbm "
            "(or pip install 'circuitvae[fast]')"
        ) from err
    params = dict(n_estimators=n_estimators, learning_rate=0.1, max_depth=3, num_leaves=8,
                  min_child_samples=1, subsample=1.0, colsample_bytree=1.0, reg_alpha=0.0,
                  reg_lambda=0.0,
                  importance_type="gain", random_state=seed, n_jobs=1, deterministic=True,
                  force_col_wise=True, verbose=-1)
    if kind == "categorical":
        return lightgbm.LGBMClassifier(**params)
    if kind == "numeric":
        return lightgbm.LGBMRegressor(**params)
    raise CircuitVAEError(f"unknown feature kind {kind!r}; use 'categorical' or 'numeric'")


def check_estimator(estimator: Any) -> None:
    """Raise unless ``estimator`` is ``None``, one of :data:`ESTIMATORS` or a callable."""
    if estimator is None or callable(estimator) or estimator in ESTIMATORS:
        return
    raise CircuitVAEError(
        f"estimator must be 'sklearn', 'lightgbm' or a factory kind -> estimator, got "
        f"{estimator!r}")


def estimator_factory(estimator: Estimator, *, seed: int, n_estimators: int) -> EstimatorFactory:
    """The factory behind an :data:`Estimator` choice (``None`` = ``"sklearn"``)."""
    check_estimator(estimator)
    if callable(estimator):
        return estimator
    make = lightgbm_estimator if estimator == "lightgbm" else default_estimator
    return lambda kind: make(kind, seed=seed, n_estimators=n_estimators)


def normalized_importance(model: Any) -> np.ndarray:
    """``|feature_importances_|``, divided by its sum when the model is LightGBM's (whose gain is
    unnormalised; sklearn's already sums to 1, or is all zeros for a model without splits)."""
    imp = np.abs(np.asarray(model.feature_importances_, dtype=np.float64))
    if type(model).__module__.startswith("lightgbm") and imp.sum() > 0:
        imp = imp / imp.sum()
    return imp


@dataclass(frozen=True)
class ImportanceFit:
    """``importance`` ``(d, F)``: ``|feature_importances_|`` of the model of target f;
    ``train_score``/``test_score`` ``(F,)``: accuracy (classifier) or R^2 (regressor)."""

    importance: np.ndarray
    train_score: np.ndarray
    test_score: np.ndarray | None


def gbt_importance(
    codes_train: np.ndarray,
    targets_train: np.ndarray,
    kinds: Sequence[Kind],
    *,
    seed: int = 0,
    n_estimators: int = 100,
    estimator: Estimator = None,
    codes_test: np.ndarray | None = None,
    targets_test: np.ndarray | None = None,
    n_jobs: int | None = None,
) -> ImportanceFit:
    """Fit one model per target column on all codes and collect the importance matrix.

    ``R[j, f] = |feature_importances_[j]|`` of the model predicting target f from the codes, the
    ``compute_importance_gbt`` of disentanglement_lib [paper], with ``(N, d)`` inputs.
    ``estimator`` chooses the model: ``"sklearn"`` (default, the reference), ``"lightgbm"``
    (:func:`lightgbm_estimator`; importances normalised to sum 1 per model), or a factory
    ``kind -> unfitted estimator`` exposing ``feature_importances_``. The per-target fits are
    independent and
    seeded, so ``n_jobs`` (threads, as joblib counts them) changes the speed, not the numbers.
    """
    d, n_targets = codes_train.shape[1], targets_train.shape[1]
    if len(kinds) != n_targets:
        raise CircuitVAEError(f"got {len(kinds)} kinds for {n_targets} target columns")
    if codes_test is not None and targets_test is None:
        raise CircuitVAEError("codes_test given without targets_test")

    make = estimator_factory(estimator, seed=seed, n_estimators=n_estimators)

    def fit_one(f: int, kind: Kind) -> tuple[np.ndarray, float, float]:
        model = make(kind)
        y = targets_train[:, f].astype(np.int64) if kind == "categorical" else targets_train[:, f]
        model.fit(codes_train, y)
        test = float("nan")
        if codes_test is not None and targets_test is not None:
            y_test = targets_test[:, f]
            y_test = y_test.astype(np.int64) if kind == "categorical" else y_test
            test = _score(model, codes_test, y_test, kind)
        return normalized_importance(model), _score(model, codes_train, y, kind), test

    # the costliest fits first, so parallel workers finish together (same numbers, any order)
    order = sorted(range(n_targets), key=lambda f: -_fit_cost(targets_train[:, f], kinds[f]))
    done = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(fit_one)(f, kinds[f]) for f in order
    )
    fits: list[Any] = [None] * n_targets
    for f, fit in zip(order, done, strict=True):
        fits[f] = fit
    importance = np.zeros((d, n_targets), dtype=np.float64)
    for f, (imp, _, _) in enumerate(fits):
        importance[:, f] = imp
    train_score = np.array([t for _, t, _ in fits])
    test_score = None if codes_test is None else np.array([t for _, _, t in fits])
    return ImportanceFit(importance, train_score, test_score)


def _fit_cost(target: np.ndarray, kind: Kind) -> int:
    """Trees per boosting stage: one per class of a categorical target (one if binary)."""
    if kind != "categorical":
        return 1
    n_classes = len(np.unique(target))
    return 1 if n_classes <= 2 else n_classes


def _score(model: Any, x: np.ndarray, y: np.ndarray, kind: Kind) -> float:
    if kind == "categorical":
        return float(np.mean(model.predict(x) == y))
    return float(model.score(x, y))
