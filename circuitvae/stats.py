"""Statistics of a study: paired Wilcoxon tables with Holm-Sidak, correlations, bootstrap CIs.

Every function takes a pandas DataFrame of result rows (one row per run, one column per metric)
and returns a tidy DataFrame or a small frozen dataclass. Missing values (NaN) are dropped pairwise;
a test that cannot be computed (too few values, constant data) returns NaN, never raises.

* :func:`holm_sidak` — Holm-Sidak step-down adjustment [paper: the correction; scipy has none].
* :func:`pairwise_wilcoxon` — per metric, every pair of architectures compared with the Wilcoxon
  signed-rank test paired over (dataset, seed) [paper], Holm-Sidak within the metric's family.
* :func:`correlation` / :func:`within_correlation` — Pearson r with p and n [paper]; the within
  version removes each dataset's mean first (partial correlation given the dataset) [our choice];
  :meth:`Correlation.ci` / :func:`fisher_ci` — its 95% CI by Fisher's z [our choice].
* :func:`paired_test` — two columns of the same runs (semantic vs random grouping), Wilcoxon.
* :func:`group_test` — two groups of runs (tabular vs image), Mann-Whitney U [our choice].
* :func:`bootstrap_ci` / :func:`summary_ci` — seeded percentile bootstrap CIs (scipy) [our choice].
* :func:`ratio_ci` — seeded bootstrap CI of a ratio of two means (paired or not) [our choice].
* :func:`wilson_ci` — Wilson score interval of a proportion k of n [our choice].
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from .protocol import CircuitVAEError


@dataclass(frozen=True)
class HolmSidak:
    """Adjusted p-values and rejections, in the order of the input."""

    p_adjusted: np.ndarray
    reject: np.ndarray
    alpha: float


def holm_sidak(pvalues: Sequence[float] | np.ndarray, alpha: float = 0.05) -> HolmSidak:
    """Holm-Sidak step-down adjustment of a family of ``m`` p-values.

    Sort ascending, ``p_(1) <= ... <= p_(m)``; the adjusted value of the i-th smallest is
    ``max_{k <= i} min(1, 1 - (1 - p_(k)) ** (m - k + 1))``; reject where adjusted <= alpha.
    NaN p-values are left out of the family (``m`` counts the others) and stay NaN, not rejected.
    """
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    if np.any((p < 0) | (p > 1)):
        raise CircuitVAEError(f"p-values must lie in [0, 1], got {p[(p < 0) | (p > 1)]}")
    if not 0 < alpha < 1:
        raise CircuitVAEError(f"alpha must lie in (0, 1), got {alpha}")
    adj = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        steps = 1.0 - (1.0 - p[order]) ** (m - np.arange(m))  # k = 1..m -> exponent m - k + 1
        adj[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    reject = np.zeros(p.shape, dtype=bool)
    reject[ok] = adj[ok] <= alpha
    return HolmSidak(adj, reject, alpha)


def _wilcoxon(d: np.ndarray, alternative: str = "two-sided") -> tuple[float, float]:
    """(statistic, p) of the Wilcoxon signed-rank test on differences ``d``; NaN when n < 2;
    p = 1 when every difference is zero (no evidence of a difference)."""
    d = d[~np.isnan(d)]
    if d.size < 2:
        return float("nan"), float("nan")
    if np.all(d == 0):
        return float("nan"), 1.0
    res = sps.wilcoxon(d, alternative=alternative)
    return float(res.statistic), float(res.pvalue)


def _need(rows: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in rows.columns]
    if missing:
        raise CircuitVAEError(f"result rows lack column(s) {missing}; have {list(rows.columns)}")


PAIRWISE_COLUMNS = ["metric", "a", "b", "n", "mean_a", "mean_b", "median_diff", "statistic",
                    "p", "p_adj", "reject"]


def pairwise_wilcoxon(
    rows: pd.DataFrame,
    metric: str,
    *,
    group: str = "architecture",
    pair_on: Sequence[str] = ("dataset", "seed"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Every pair (a, b) of ``group`` values compared on ``metric``, paired over ``pair_on``.

    Differences are ``a - b`` for the same (dataset, seed); pairs where either is NaN are dropped.
    ``median_diff`` > 0 means a is larger. Holm-Sidak is applied within this metric's family.
    """
    _need(rows, [metric, group, *pair_on])
    wide = rows.pivot_table(index=list(pair_on), columns=group, values=metric, aggfunc="mean",
                            dropna=False)
    levels = sorted(rows[group].dropna().unique().tolist(), key=str)
    recs = []
    for a, b in itertools.combinations(levels, 2):
        va = wide[a].to_numpy(float) if a in wide else np.array([])
        vb = wide[b].to_numpy(float) if b in wide else np.array([])
        keep = ~(np.isnan(va) | np.isnan(vb))
        d = va[keep] - vb[keep]
        stat, p = _wilcoxon(d)
        recs.append({
            "metric": metric, "a": a, "b": b, "n": int(keep.sum()),
            "mean_a": float(np.mean(va[keep])) if keep.any() else np.nan,
            "mean_b": float(np.mean(vb[keep])) if keep.any() else np.nan,
            "median_diff": float(np.median(d)) if d.size else np.nan,
            "statistic": stat, "p": p,
        })
    out = pd.DataFrame.from_records(recs, columns=PAIRWISE_COLUMNS[:-2])
    hs = holm_sidak(out["p"].to_numpy(float), alpha) if len(out) else None
    out["p_adj"] = hs.p_adjusted if hs else np.array([])
    out["reject"] = hs.reject if hs else np.array([], dtype=bool)
    return out[PAIRWISE_COLUMNS]


def pairwise_table(rows: pd.DataFrame, metrics: Sequence[str], **kwargs: object) -> pd.DataFrame:
    """:func:`pairwise_wilcoxon` for each metric present in ``rows``; each metric is its own
    Holm-Sidak family."""
    parts = [pairwise_wilcoxon(rows, m, **kwargs) for m in metrics if m in rows.columns]
    if not parts:
        return pd.DataFrame(columns=PAIRWISE_COLUMNS)
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Correlation:
    """Pearson correlation of two columns."""

    x: str
    y: str
    r: float
    p: float
    n: int
    #: group means removed before correlating (1: the pooled mean; g: one per dataset)
    groups: int = 1

    def ci(self, confidence: float = 0.95) -> tuple[float, float]:
        """The Fisher-z confidence interval of ``r`` (see :func:`fisher_ci`)."""
        return fisher_ci(self.r, self.n, self.groups, confidence)


def fisher_ci(r: float, n: int, groups: int = 1, confidence: float = 0.95
              ) -> tuple[float, float]:
    """Confidence interval of a Pearson r over ``n`` values by Fisher's z transform.

    ``z = atanh(r)`` with standard error ``1 / sqrt(n - groups - 2)``: ``groups = 1`` is the
    ordinary correlation (``1 / sqrt(n - 3)``); a correlation after removing ``g`` group means is
    a partial correlation given ``g - 1`` indicator variables, ``1 / sqrt(n - g - 2)``. NaN when
    r is NaN or ``n - groups - 2 < 1``; ``|r| = 1`` gives the zero-width interval at r.
    """
    nan = float("nan")
    dof = n - groups - 2
    if not np.isfinite(r) or dof < 1:
        return nan, nan
    if abs(r) >= 1.0:
        return float(r), float(r)
    z = float(np.arctanh(r))
    half = float(sps.norm.ppf(0.5 + confidence / 2)) / np.sqrt(dof)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def wilson_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` (NaN bounds when ``n == 0``)."""
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise CircuitVAEError(f"wilson_ci needs 0 <= k <= n, got k={k}, n={n}")
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    phat, z2 = k / n, z * z
    denom = 1 + z2 / n
    centre = (phat + z2 / (2 * n)) / denom
    half = z * np.sqrt(phat * (1 - phat) / n + z2 / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _xy(rows: pd.DataFrame, x: str, y: str, extra: Sequence[str] = ()) -> pd.DataFrame:
    _need(rows, [x, y, *extra])
    d = rows[[x, y, *extra]].copy()
    d[x] = pd.to_numeric(d[x], errors="coerce")
    d[y] = pd.to_numeric(d[y], errors="coerce")
    return d.dropna(subset=[x, y])


def correlation(rows: pd.DataFrame, x: str, y: str) -> Correlation:
    """Pearson r of ``x`` and ``y`` over the runs where both are present (scipy.stats.pearsonr)."""
    d = _xy(rows, x, y)
    n = len(d)
    if n < 3 or d[x].nunique() < 2 or d[y].nunique() < 2:
        return Correlation(x, y, float("nan"), float("nan"), n)
    res = sps.pearsonr(d[x].to_numpy(float), d[y].to_numpy(float))
    return Correlation(x, y, float(res.statistic), float(res.pvalue), n)


def within_correlation(rows: pd.DataFrame, x: str, y: str, within: str = "dataset"
                       ) -> Correlation:
    """Pearson r of ``x`` and ``y`` after removing each ``within`` group's mean [our choice].

    This is the partial correlation given the group: with n runs in g groups,
    ``t = r sqrt(df / (1 - r^2))``, ``df = n - g - 1``, two-sided p from Student's t.
    """
    d = _xy(rows, x, y, [within])
    g = d[within].nunique()
    n = len(d)
    df = n - g - 1
    if df < 1:
        return Correlation(x, y, float("nan"), float("nan"), n, g)
    rx = d[x] - d.groupby(within)[x].transform("mean")
    ry = d[y] - d.groupby(within)[y].transform("mean")
    sx, sy = float(np.sqrt((rx**2).sum())), float(np.sqrt((ry**2).sum()))
    if sx == 0 or sy == 0:
        return Correlation(x, y, float("nan"), float("nan"), n, g)
    r = float(np.clip((rx * ry).sum() / (sx * sy), -1.0, 1.0))
    if abs(r) == 1.0:
        return Correlation(x, y, r, 0.0, n, g)
    t = r * np.sqrt(df / (1 - r * r))
    return Correlation(x, y, r, float(2 * sps.t.sf(abs(t), df)), n, g)


def partial_within(rows: pd.DataFrame, x: str, y: str, control: str, within: str = "dataset"
                   ) -> Correlation:
    """Pearson r of ``x`` and ``y`` given ``control``, within each ``within`` group [our choice].

    In every group both ``x`` and ``y`` are regressed on ``[1, control]`` (a slope per group:
    the control's scale differs between datasets), and the residuals are correlated. With n
    runs in g groups that removes k = 2g - 1 covariates besides the mean:
    ``t = r sqrt(df / (1 - r^2))``, ``df = n - 2g - 1``; the Fisher interval
    (:meth:`Correlation.ci`) uses ``1 / sqrt(n - 2g - 2)`` (``groups = 2g``). A group with fewer
    than 3 runs, or a constant control, cannot be residualised and is dropped.
    """
    if len({x, y, control, within}) < 4:
        raise CircuitVAEError(f"x, y, control and within must be four different columns, got "
                              f"{x!r}, {y!r}, {control!r}, {within!r}")
    _need(rows, [control])
    d = _xy(rows, x, y, [control, within])
    d[control] = pd.to_numeric(d[control], errors="coerce")
    d = d.dropna(subset=[control])
    parts = []
    for _, g in d.groupby(within):
        c = g[control].to_numpy(float)
        if len(g) < 3 or np.ptp(c) == 0:
            continue
        design = np.column_stack([np.ones(len(g)), c])
        res = []
        for col in (x, y):
            v = g[col].to_numpy(float)
            beta, *_ = np.linalg.lstsq(design, v, rcond=None)
            res.append(v - design @ beta)
        parts.append(np.column_stack(res))
    n_groups = len(parts)
    n = int(sum(len(p) for p in parts))
    df = n - 2 * n_groups - 1
    if df < 1:
        return Correlation(x, y, float("nan"), float("nan"), n, 2 * max(n_groups, 1))
    rx, ry = np.concatenate(parts).T
    sx, sy = float(np.sqrt((rx**2).sum())), float(np.sqrt((ry**2).sum()))
    if sx == 0 or sy == 0:
        return Correlation(x, y, float("nan"), float("nan"), n, 2 * n_groups)
    r = float(np.clip((rx * ry).sum() / (sx * sy), -1.0, 1.0))
    if abs(r) == 1.0:
        return Correlation(x, y, r, 0.0, n, 2 * n_groups)
    t = r * np.sqrt(df / (1 - r * r))
    return Correlation(x, y, r, float(2 * sps.t.sf(abs(t), df)), n, 2 * n_groups)


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank test of column ``a`` against column ``b`` on the same runs."""

    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    median_diff: float
    statistic: float
    p: float
    alternative: str


def paired_test(rows: pd.DataFrame, a: str, b: str, alternative: str = "two-sided"
                ) -> PairedTest:
    """Paired Wilcoxon signed-rank test of ``a - b`` over the runs that have both values.

    ``alternative="greater"`` tests a > b (e.g. semantic > random grouping modularity).
    """
    d = _xy(rows, a, b)
    diff = (d[a] - d[b]).to_numpy(float)
    stat, p = _wilcoxon(diff, alternative)
    nan = float("nan")
    return PairedTest(a, b, len(d), float(d[a].mean()) if len(d) else nan,
                      float(d[b].mean()) if len(d) else nan,
                      float(np.median(diff)) if diff.size else nan, stat, p, alternative)


@dataclass(frozen=True)
class GroupTest:
    """Mann-Whitney U test of ``metric`` between two groups of runs."""

    metric: str
    a: str
    b: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    ratio: float
    statistic: float
    p: float
    alternative: str


def group_test(rows: pd.DataFrame, metric: str, by: str, a: str, b: str,
               alternative: str = "two-sided") -> GroupTest:
    """Compare ``metric`` between runs with ``rows[by] == a`` and ``== b`` (unpaired,
    scipy.stats.mannwhitneyu). ``ratio`` = mean_a / mean_b."""
    _need(rows, [metric, by])
    vals = pd.to_numeric(rows[metric], errors="coerce")
    xa = vals[rows[by] == a].dropna().to_numpy(float)
    xb = vals[rows[by] == b].dropna().to_numpy(float)
    nan = float("nan")
    ma = float(xa.mean()) if xa.size else nan
    mb = float(xb.mean()) if xb.size else nan
    ratio = ma / mb if xb.size and mb != 0 else nan
    if xa.size < 1 or xb.size < 1 or (np.ptp(np.r_[xa, xb]) == 0):
        return GroupTest(metric, a, b, xa.size, xb.size, ma, mb, ratio, nan, nan, alternative)
    res = sps.mannwhitneyu(xa, xb, alternative=alternative)
    return GroupTest(metric, a, b, xa.size, xb.size, ma, mb, ratio, float(res.statistic),
                     float(res.pvalue), alternative)


@dataclass(frozen=True)
class CI:
    """A point estimate with a bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float


def bootstrap_ci(values: Sequence[float] | np.ndarray,
                 statistic: Callable[[np.ndarray], float] = np.mean, *,
                 confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> CI:
    """Percentile bootstrap CI of ``statistic`` (scipy.stats.bootstrap, seeded) [our choice:
    percentile, which stays defined for the 3-15 values of a study cell]. NaNs are dropped;
    fewer than 2 values give NaN bounds; constant values give a zero-width interval."""
    x = np.asarray(values, dtype=float).reshape(-1)
    x = x[~np.isnan(x)]
    nan = float("nan")
    if x.size == 0:
        return CI(nan, nan, nan, 0, confidence)
    est = float(statistic(x))
    if x.size < 2:
        return CI(est, nan, nan, 1, confidence)
    if np.ptp(x) == 0:
        return CI(est, est, est, x.size, confidence)
    res = sps.bootstrap((x,), lambda s, axis=-1: statistic(s, axis=axis), vectorized=True,
                        confidence_level=confidence, n_resamples=n_resamples,
                        method="percentile", rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return CI(est, float(ci.low), float(ci.high), x.size, confidence)


def ratio_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
             paired: bool = False, confidence: float = 0.95, n_resamples: int = 2000,
             seed: int = 0) -> CI:
    """Percentile bootstrap CI of ``mean(a) / mean(b)`` [our choice], seeded.

    ``paired=False``: ``a`` and ``b`` are independent groups (e.g. tabular vs image runs), each
    resampled on its own; ``paired=True``: two values of the same runs (e.g. semantic vs random
    grouping), the runs resampled together (NaN in either drops the run). Fewer than 2 values in
    a group, or a zero mean of ``b``, give NaN bounds; ``n`` is the smaller group's size.
    """
    xa = np.asarray(a, dtype=float).reshape(-1)
    xb = np.asarray(b, dtype=float).reshape(-1)
    if paired:
        if xa.shape != xb.shape:
            raise CircuitVAEError(f"paired ratio_ci needs equal lengths, got {xa.size}, {xb.size}")
        keep = ~(np.isnan(xa) | np.isnan(xb))
        xa, xb = xa[keep], xb[keep]
    else:
        xa, xb = xa[~np.isnan(xa)], xb[~np.isnan(xb)]
    nan = float("nan")
    n = int(min(xa.size, xb.size))
    if n == 0 or xb.mean() == 0:
        return CI(nan, nan, nan, n, confidence)
    est = float(xa.mean() / xb.mean())
    if n < 2:
        return CI(est, nan, nan, n, confidence)
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return CI(est, est, est, n, confidence)

    def ratio(s_a: np.ndarray, s_b: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean(s_a, axis=axis) / np.mean(s_b, axis=axis)

    res = sps.bootstrap((xa, xb), ratio, vectorized=True, paired=paired,
                        confidence_level=confidence, n_resamples=n_resamples,
                        method="percentile", rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return CI(est, float(ci.low), float(ci.high), n, confidence)


def summary_ci(rows: pd.DataFrame, metrics: Sequence[str], by: Sequence[str] = ("architecture",),
               *, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Mean and bootstrap CI of each metric per group: columns ``*by, metric, n, mean, low,
    high``. Metrics absent from ``rows`` are left out."""
    recs = []
    for m in metrics:
        if m not in rows.columns:
            continue
        vals = pd.to_numeric(rows[m], errors="coerce")
        for key, g in rows.groupby(list(by), sort=True):
            key = key if isinstance(key, tuple) else (key,)
            ci = bootstrap_ci(vals.loc[g.index].to_numpy(float), confidence=confidence,
                              seed=seed)
            recs.append({**dict(zip(by, key, strict=True)), "metric": m, "n": ci.n,
                         "mean": ci.estimate, "low": ci.low, "high": ci.high})
    return pd.DataFrame.from_records(recs, columns=[*by, "metric", "n", "mean", "low", "high"])


def crossing_point(x: Sequence[float], y: Sequence[float], level: float, *,
                   log_x: bool = True) -> float:
    """Where the curve ``y(x)`` first falls below ``level``: the first grid point with
    ``y < level``, interpolated linearly (in ``log x`` when ``log_x``) between it and the grid
    point before. NaN when the curve never falls below ``level``; the first ``x`` when it
    starts below it. ``x`` must increase."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.ndim != 1 or xs.shape != ys.shape or xs.size == 0:
        raise CircuitVAEError(f"x and y must be 1-D of one length, got {xs.shape}, {ys.shape}")
    if np.any(np.diff(xs) <= 0) or (log_x and np.any(xs <= 0)):
        raise CircuitVAEError("x must increase (and be positive for log_x)")
    below = np.flatnonzero(ys < level)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(xs[0])
    tx = np.log(xs) if log_x else xs
    frac = (ys[i - 1] - level) / (ys[i - 1] - ys[i])
    value = tx[i - 1] + frac * (tx[i] - tx[i - 1])
    return float(np.exp(value) if log_x else value)


def transition_ci(values: Mapping[float, Sequence[float]], *, fraction: float = 0.5,
                  log_x: bool = True, confidence: float = 0.95, n_resamples: int = 2000,
                  seed: int = 0) -> CI:
    """Where the mean of the runs at each grid value ``x`` (``values[x]``: one value per run)
    falls below ``fraction`` of its mean at the smallest ``x`` (:func:`crossing_point`), with
    a percentile bootstrap interval: the runs are resampled within each ``x``, seeded
    [our choice]. A resample whose curve never crosses is left out; ``n`` counts the runs."""
    xs = sorted(float(k) for k in values)
    runs = [np.asarray(values[k], dtype=float) for k in sorted(values, key=float)]
    runs = [r[~np.isnan(r)] for r in runs]
    if len(xs) < 2 or any(r.size == 0 for r in runs):
        raise CircuitVAEError("a transition needs 2+ grid values, each with a run")
    nan = float("nan")

    def estimate(samples: Sequence[np.ndarray]) -> float:
        means = [float(s.mean()) for s in samples]
        return crossing_point(xs, means, fraction * means[0], log_x=log_x)

    point = estimate(runs)
    rng = np.random.default_rng(seed)
    boots = np.array([estimate([r[rng.integers(r.size, size=r.size)] for r in runs])
                      for _ in range(n_resamples)])
    boots = boots[~np.isnan(boots)]
    n = int(sum(r.size for r in runs))
    if boots.size < 2:
        return CI(point, nan, nan, n, confidence)
    tail = 100 * (1 - confidence) / 2
    return CI(point, float(np.percentile(boots, tail)), float(np.percentile(boots, 100 - tail)),
              n, confidence)
