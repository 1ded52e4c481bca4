"""Sparsity of a layer's activations: dead units, L0, feature density, factor selectivity.

methods.md section 8 ([seed]: dead-neuron rates of a sparsified layer, robust to the threshold
that defines "dead"; [ours]: the exact definitions). Model-agnostic: every function takes an
activation matrix ``(N, U)`` of N rows and U units (a site's output; a convolution's
``(N, C, H, W)`` is reduced per channel to its largest value over positions: a channel is
active in a row when any of its positions is), and
:func:`site_sparsity` captures one from any model's site through the engine.

* **dead**: unit u is dead at threshold tau if ``a_nu > tau`` on no row n; the rate is the
  fraction of dead units. Thresholds: ``0, 1e-6, 1e-3, 1e-2`` and ``"relative"`` =
  0.01 x the mean of the positive activations;
* **L0** of a row: the number of units with ``a_nu > tau``;
* **feature density** of a unit: the fraction of rows on which it is active (``> tau``); the
  histogram is over ``log10(density + 1e-10)`` (SAELens' convention);
* **factor selectivity**: the mutual information (nats) between each unit's activation
  (binned into ``n_bins`` equal-width bins over its range, as MIG bins the codes:
  :func:`~circuitvae.metrics._discretize.histogram_discretize`) and each ground-truth
  factor; a unit's selectivity is its largest MI over factors divided by that factor's
  entropy (0 for a dead unit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import mutual_info_score

from ..hooks import run_unchecked
from ..interventions.batching import chunk_rows, chunks
from ..passes import Method, RunResult
from ..protocol import CircuitVAEError, as_tensor, check_input, check_int
from ..sitemap import check_sites
from ._discretize import histogram_discretize

#: the thresholds of "dead" [our choice, methods.md section 8]
DEAD_THRESHOLDS: tuple[float | str, ...] = (0.0, 1e-6, 1e-3, 1e-2, "relative")
_TINY = 1e-10


def _array(values: Any, name: str) -> np.ndarray:
    """``values`` (a tensor, an array or nested lists) as a numpy array; a clear error for a
    ragged list."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    try:
        return np.asarray(values)
    except ValueError as err:  # e.g. rows of different lengths
        raise CircuitVAEError(f"{name} must be a rectangular array: {err}") from None


def unit_matrix(acts: Any, name: str = "acts") -> np.ndarray:
    """``acts`` as a finite float64 ``(N, U)`` matrix; ``(N, C, ...)`` is reduced per channel
    to its largest activation over its positions (signed, as "dead" is: above tau)."""
    a = _array(acts, name)
    if a.dtype.kind not in "iuf":  # bool, complex, str and object are not activations
        raise CircuitVAEError(f"{name} must be real numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim < 2:
        raise CircuitVAEError(f"{name} must be (N, units), got shape {a.shape}")
    if a.size == 0:
        raise CircuitVAEError(f"{name} is empty (shape {a.shape})")
    if a.ndim > 2:
        a = a.reshape(a.shape[0], a.shape[1], -1).max(axis=2)
    if not np.isfinite(a).all():
        raise CircuitVAEError(f"{name} contains NaN or Inf values")
    return a


def _check_threshold(tau: Any) -> float | str:
    """``tau`` if it is a number >= 0 or ``"relative"``; else a clear error."""
    if isinstance(tau, str) and tau == "relative":
        return tau
    if (isinstance(tau, str | bool) or not isinstance(tau, int | float | np.integer
                                                       | np.floating)
            or not np.isfinite(float(tau)) or float(tau) < 0):
        raise CircuitVAEError(f"a threshold must be a number >= 0 or 'relative', got {tau!r}")
    return tau


def check_thresholds(thresholds: Any) -> tuple[float | str, ...]:
    """``thresholds`` as a non-empty tuple of valid thresholds; a single threshold (a number
    or ``"relative"``) is a tuple of one."""
    if isinstance(thresholds, str | int | float | np.integer | np.floating):
        thresholds = (thresholds,)
    elif isinstance(thresholds, np.ndarray | torch.Tensor):
        thresholds = tuple(thresholds.tolist()) if thresholds.ndim else (thresholds.item(),)
    try:
        out = tuple(thresholds)
    except TypeError:
        raise CircuitVAEError(f"thresholds must be a sequence of numbers >= 0 or 'relative', "
                              f"got {thresholds!r}") from None
    if not out:
        raise CircuitVAEError("thresholds is empty")
    return tuple(_check_threshold(t) for t in out)


def _threshold(a: np.ndarray, tau: float | str) -> float:
    if _check_threshold(tau) == "relative":
        positive = a[a > 0]
        if not positive.size:
            return 0.0
        with np.errstate(over="ignore"):
            mean = float(positive.mean())
        if not np.isfinite(mean):  # the sum overflowed (values near 1e308): top * mean(a/top)
            top = float(positive.max())
            mean = top * float((positive / top).mean())
        return 0.01 * mean
    return float(tau)


@dataclass(frozen=True)
class DeadUnits:
    """``rates[tau]``: fraction of dead units at each threshold; ``dead[tau]`` ``(U,)`` the
    masks; ``values[tau]``: the numeric threshold used (``"relative"`` resolved)."""

    rates: dict[str, float]
    dead: dict[str, np.ndarray] = field(repr=False)
    values: dict[str, float]
    n_rows: int
    n_units: int


def dead_units(acts: Any, thresholds: Sequence[float | str] = DEAD_THRESHOLDS) -> DeadUnits:
    """Dead-unit rates: unit u is dead at tau when ``max_n a_nu <= tau``."""
    a = unit_matrix(acts)
    thresholds = check_thresholds(thresholds)
    peak = a.max(axis=0)
    rates, masks, values = {}, {}, {}
    for tau in thresholds:
        t = _threshold(a, tau)
        key = str(tau)
        masks[key] = peak <= t
        rates[key] = float(masks[key].mean())
        values[key] = t
    return DeadUnits(rates, masks, values, a.shape[0], a.shape[1])


def l0(acts: Any, tau: float | str = 0.0) -> np.ndarray:
    """``(N,)``: the number of active units (``> tau``) in each row."""
    a = unit_matrix(acts)
    return (a > _threshold(a, tau)).sum(axis=1)


@dataclass(frozen=True)
class FeatureDensity:
    """``density`` ``(U,)``: fraction of rows each unit is active on; ``log10`` =
    ``log10(density + 1e-10)``; ``hist`` / ``edges``: its histogram."""

    density: np.ndarray
    log10: np.ndarray
    hist: np.ndarray
    edges: np.ndarray


def feature_density(acts: Any, tau: float | str = 0.0, *, bins: int = 50) -> FeatureDensity:
    """The feature-density histogram over units (SAELens: ``log10(density + 1e-10)``)."""
    a = unit_matrix(acts)
    check_int("bins", bins, minimum=1)
    density = (a > _threshold(a, tau)).mean(axis=0)
    logd = np.log10(density + _TINY)
    hist, edges = np.histogram(np.minimum(logd, 0.0), bins=bins, range=(np.log10(_TINY), 0.0))
    return FeatureDensity(density, logd, hist, edges)


@dataclass(frozen=True)
class Selectivity:
    """``mi`` ``(U, K)`` nats; ``selectivity`` ``(U,)`` = max_k MI / H(factor k at the max);
    ``best_factor`` ``(U,)`` (-1 for a unit with no information)."""

    mi: np.ndarray
    selectivity: np.ndarray
    best_factor: np.ndarray


def factor_selectivity(acts: Any, factors: Any, *, n_bins: int = 20) -> Selectivity:
    """Mutual information of each unit's (histogram-binned) activation with each factor."""
    a = unit_matrix(acts)
    f = _factor_labels(factors, a.shape[0])
    check_int("n_bins", n_bins, minimum=2)
    mi = np.zeros((a.shape[1], f.shape[1]))
    entropy = np.array([mutual_info_score(f[:, k], f[:, k]) for k in range(f.shape[1])])
    varying = np.flatnonzero(np.ptp(a, axis=0) > 0)  # a constant (dead) unit carries no MI
    if varying.size:
        binned = histogram_discretize(a[:, varying], n_bins).astype(np.int64)
        for k in range(f.shape[1]):
            mi[varying, k] = mutual_info_columns(binned, f[:, k].astype(np.int64))
    best = np.where(mi.max(axis=1) > 0, mi.argmax(axis=1), -1)
    sel = np.zeros(a.shape[1])
    has = best >= 0
    sel[has] = mi[has, best[has]] / np.maximum(entropy[best[has]], _TINY)
    return Selectivity(mi, sel, best)


def _factor_labels(factors: Any, n_rows: int, name: str = "factors") -> np.ndarray:
    """``factors`` as an ``(N, K)`` matrix of integer class labels with ``N = n_rows``, at
    least one column, and at least one column that varies (else no selectivity is defined)."""
    f = _array(factors, name)
    if f.dtype.kind not in "biuf" or (f.dtype.kind == "f" and not np.isfinite(f).all()):
        raise CircuitVAEError(f"{name} must be finite numbers (integer classes)")
    if f.dtype.kind == "f" and not np.array_equal(f, np.round(f)):
        raise CircuitVAEError(f"{name} must be integer class labels, got non-integer values: "
                              "discretize a continuous factor first (e.g. into its grid "
                              "positions)")
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2 or f.shape[0] != n_rows or f.shape[1] == 0:
        raise CircuitVAEError(f"{name} must be (N, K) with N = {n_rows} rows like acts and "
                              f"K >= 1, got shape {f.shape}")
    if not (np.ptp(f, axis=0) > 0).any():
        raise CircuitVAEError(f"no column of {name} varies over the {n_rows} rows: "
                              "selectivity to a constant factor is undefined")
    return f


def mutual_info_columns(labels: Any, target: Any) -> np.ndarray:
    """``(U,)``: ``mutual_info_score(target, labels[:, u])`` (nats, the plug-in estimate) for
    every column of the integer matrix ``labels`` ``(N, U)`` at once, from one joint count.
    ``target`` ``(N,)`` holds integer class labels."""
    labels, target = _array(labels, "labels"), _array(target, "target")
    if labels.ndim != 2 or labels.size == 0 or labels.dtype.kind not in "biu":
        raise CircuitVAEError(f"labels must be a non-empty (N, U) integer matrix, got shape "
                              f"{labels.shape} and dtype {labels.dtype}")
    if target.ndim != 1 or target.shape[0] != labels.shape[0] or target.dtype.kind not in "biu":
        raise CircuitVAEError(f"target must be (N,) integer labels with N = {labels.shape[0]} "
                              f"like labels, got shape {target.shape} and dtype {target.dtype}")
    n, u = labels.shape
    _, cols = np.unique(labels, return_inverse=True)  # compact codes 0..B-1
    cols = cols.reshape(n, u)
    _, t = np.unique(target, return_inverse=True)
    nb, nc = int(cols.max()) + 1, int(t.max()) + 1
    idx = (np.arange(u)[None, :] * nb + cols) * nc + t.reshape(-1)[:, None]
    joint = np.bincount(idx.ravel(), minlength=u * nb * nc).reshape(u, nb, nc) / n
    p_label = joint.sum(2, keepdims=True)
    p_target = joint.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (p_label * p_target)), 0.0)
    return np.maximum(terms.sum(axis=(1, 2)), 0.0)


@dataclass(frozen=True)
class SiteSparsity:
    """Everything above for one site: ``dead``, ``l0_mean``, ``density``, ``acts`` ``(N, U)``."""

    site: str
    dead: DeadUnits
    l0_mean: float
    density: FeatureDensity
    acts: np.ndarray = field(repr=False)


def _site_passes(model: Any, x: Any, site: str, method: Method,
                 max_batch_rows: int | None) -> list[RunResult]:
    xt = check_input(model, x)
    check_sites(model, [site])
    size = chunk_rows(max_batch_rows, model, int(np.prod(xt.shape[1:])))
    return [run_unchecked(model, xt[s], method=method, capture=[site])
            for s in chunks(xt.shape[0], size)]


def site_activations(model: Any, x: Any, site: str, *,
                     max_batch_rows: int | None = None) -> np.ndarray:
    """The ``(N, U)`` activations of ``site`` on the rows of ``x`` (reconstruct passes,
    chunked; channels reduced as in :func:`unit_matrix`)."""
    parts = _site_passes(model, x, site, "reconstruct", max_batch_rows)
    return unit_matrix(torch.cat([p.cache[site] for p in parts]),
                       name=f"activations of {site!r}")


def encoder_site_and_means(model: Any, x: Any, site: str, *,
                           max_batch_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One chunked encode pass over the rows of ``x``: the ``(N, U)`` activations of the
    encoder site ``site`` (as :func:`site_activations`) and the ``(N, d)`` posterior means."""
    parts = _site_passes(model, x, site, "encode", max_batch_rows)
    acts = unit_matrix(torch.cat([p.cache[site] for p in parts]),
                       name=f"activations of {site!r}")
    return acts, torch.cat([p.output.mean for p in parts]).detach().cpu().numpy()


def site_sparsity(model: Any, x: Any, site: str, *, tau: float | str = 0.0,
                  thresholds: Sequence[float | str] = DEAD_THRESHOLDS,
                  max_batch_rows: int | None = None) -> SiteSparsity:
    """Dead-unit rates, mean L0 and feature density of ``site`` on the rows of ``x``."""
    a = site_activations(model, x, site, max_batch_rows=max_batch_rows)
    return SiteSparsity(site, dead_units(a, thresholds), float(l0(a, tau).mean()),
                        feature_density(a, tau), a)


class SparsityTracker:
    """A training callback: the sparsity of ``site`` on ``x_eval`` after every epoch.

    ``circuitvae.zoo.train(model, data, callbacks=[SparsityTracker("sparse", x_eval)])`` adds
    ``dead_<tau>`` and ``l0`` to each epoch's history row (and keeps ``densities``, one
    :class:`FeatureDensity` per epoch). Any callable ``(model, epoch) -> dict`` is a callback.
    """

    def __init__(self, site: str, x_eval: Any, *, tau: float | str = 0.0,
                 thresholds: Sequence[float | str] = DEAD_THRESHOLDS) -> None:
        if not isinstance(site, str) or not site:
            raise CircuitVAEError(f"site must be a site name (a str), got {site!r}")
        x = as_tensor(x_eval, name="x_eval")  # rejects empty, NaN and Inf rows
        if x.ndim < 2:
            raise CircuitVAEError(f"x_eval must be rows (N, ...), got shape {tuple(x.shape)}")
        self.site, self.x_eval = site, x_eval
        self.tau, self.thresholds = _check_threshold(tau), check_thresholds(thresholds)
        self.densities: list[FeatureDensity] = []

    def __call__(self, model: Any, epoch: int) -> dict[str, float]:
        was_training = model.training
        model.eval()
        try:
            res = site_sparsity(model, self.x_eval, self.site, tau=self.tau,
                                thresholds=self.thresholds)
        finally:
            model.train(was_training)
        self.densities.append(res.density)
        return {**{f"dead_{k}": v for k, v in res.dead.rates.items()}, "l0": res.l0_mean}


__all__ = [
    "DEAD_THRESHOLDS",
    "DeadUnits",
    "FeatureDensity",
    "Selectivity",
    "SiteSparsity",
    "SparsityTracker",
    "check_thresholds",
    "dead_units",
    "encoder_site_and_means",
    "factor_selectivity",
    "feature_density",
    "l0",
    "mutual_info_columns",
    "site_activations",
    "site_sparsity",
    "unit_matrix",
]
