"""The papers' headline findings, each with a rule that says whether our runs reproduce it.

Every rule checks a direction and, where the design allows it, significance at alpha = 0.05
[our choice]; each is stated in :attr:`Finding.rule` and in docs/study.md. A finding whose data is
missing (absent metric column, too few runs) is ``not computable`` with the reason, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import stats
from .columns import DOMAIN, LOWER_IS_BETTER, METRICS, MODULARITY_PREFIX, col

ALPHA = 0.05
REPRODUCED, NOT_REPRODUCED, NOT_COMPUTABLE = "reproduced", "not reproduced", "not computable"


@dataclass(frozen=True)
class Finding:
    """One headline finding: the paper's claim, our number, and the verdict."""

    key: str
    study: str
    claim: str
    paper: str
    ours: str
    status: str
    rule: str


class _Missing(Exception):
    pass


def _has(rows: pd.DataFrame, *metrics: str) -> None:
    for m in metrics:
        c = col(m)
        if c not in rows.columns or pd.to_numeric(rows[c], errors="coerce").notna().sum() == 0:
            raise _Missing(f"no values for metric column {c!r}")


def _fmt(x: float, digits: int = 3) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def _p(p: float) -> str:
    return "p=nan" if not np.isfinite(p) else ("p<.001" if p < 1e-3 else f"p={p:.3f}")


def _verdict(ok: bool | None) -> str:
    return NOT_COMPUTABLE if ok is None else (REPRODUCED if ok else NOT_REPRODUCED)


# -- tabular paper ---------------------------------------------------------------------------

def modularity_domain(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    variants = sorted(c for c in rows.columns if c.startswith(MODULARITY_PREFIX)
                      and pd.to_numeric(rows[c], errors="coerce").notna().any())
    if not variants:
        raise _Missing("no modularity column")
    if not {"tabular", "image"} <= set(rows["domain"].dropna()):
        raise _Missing("needs runs on tabular and on image datasets")
    parts, verdict = [], None
    for c in variants:
        t = stats.group_test(rows, c, "domain", "tabular", "image", alternative="less")
        if t.n_a == 0 or t.n_b == 0:
            parts.append(f"{c}: no values in one domain")
            continue
        parts.append(f"{c}: tabular/image = {_fmt(t.ratio)} ({_fmt(t.mean_a)} vs "
                     f"{_fmt(t.mean_b)}, {_p(t.p)})")
        if c == col("modularity"):
            verdict = bool(t.ratio < 1 and t.p < ALPHA)
    if verdict is None and col("modularity") not in variants:
        raise _Missing(f"no values for {col('modularity')!r}; variants: " + "; ".join(parts))
    return "; ".join(parts), verdict


def betavae_ces_domain(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "ces")
    b = rows[rows["architecture"] == "beta_vae"]
    t = stats.group_test(b, col("ces"), "domain", "tabular", "image", alternative="less")
    if t.n_a == 0 or t.n_b == 0:
        raise _Missing("needs beta_vae runs on tabular and image datasets")
    return (f"{_fmt(t.mean_a)} (tabular, n={t.n_a}) vs {_fmt(t.mean_b)} (image, n={t.n_b}), "
            f"{_p(t.p)}"), bool(t.mean_a < t.mean_b and t.p < ALPHA)


def betavae_adult_drop(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "ces")
    c = col("ces")
    a = rows[rows["dataset"] == "adult"].pivot_table(index="seed", columns="architecture",
                                                      values=c, aggfunc="mean")
    if "vae" not in a or "beta_vae" not in a:
        raise _Missing("needs vae and beta_vae runs on adult")
    a = a[["vae", "beta_vae"]].dropna()
    if a.empty:
        raise _Missing("no seed with both vae and beta_vae CES on adult")
    fold = a["vae"].mean() / a["beta_vae"].mean() if a["beta_vae"].mean() > 0 else np.inf
    ok = bool((a["beta_vae"] < a["vae"]).all() and fold >= 10)
    return (f"beta-VAE {_fmt(a['beta_vae'].mean())} vs VAE {_fmt(a['vae'].mean())} on adult, "
            f"{_fmt(fold)}-fold drop, lower in {(a['beta_vae'] < a['vae']).sum()}/{len(a)} "
            "seeds"), ok


def _corr(x: str, y: str, sign: int) -> Callable[[pd.DataFrame, pd.DataFrame],
                                                 tuple[str, bool | None]]:
    def f(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
        _has(rows, x, y)
        r = stats.correlation(rows, col(x), col(y))
        if not np.isfinite(r.r):
            raise _Missing(f"correlation of {col(x)} and {col(y)} undefined (n={r.n})")
        return f"r={_fmt(r.r)}, {_p(r.p)}, n={r.n}", bool(np.sign(r.r) == sign and r.p < ALPHA)
    return f


def ces_captures(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "ces")
    c = col("ces")
    if pairs.empty or c not in set(pairs["metric"]):
        raise _Missing("no pairwise comparisons")
    sig = pairs[pairs["reject"].astype(bool)]
    ref = sig[sig["metric"] != c]
    ref_pairs = {(a, b) for a, b in zip(ref["a"], ref["b"], strict=True)}
    ces_pairs = {(a, b) for a, b in zip(sig.loc[sig["metric"] == c, "a"],
                                         sig.loc[sig["metric"] == c, "b"], strict=True)}
    n_ces = len(ces_pairs)
    if not ref_pairs:
        return (f"CES separates {n_ces} architecture pairs; no pair differs significantly in "
                "the other metrics"), None
    hit = len(ref_pairs & ces_pairs)
    return (f"CES captures {hit} of {len(ref_pairs)} architecture pairs that differ "
            f"significantly in another metric (CES alone: {n_ces} pairs)"), \
        bool(hit / len(ref_pairs) >= 0.5)


def semantic_vs_random(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "modularity_semantic", "modularity_random")
    t = stats.paired_test(rows, col("modularity_semantic"), col("modularity_random"),
                          alternative="greater")
    if t.n < 2:
        raise _Missing("fewer than 2 runs with both groupings")
    return (f"{_fmt(t.mean_a)} vs {_fmt(t.mean_b)} (n={t.n}, one-sided Wilcoxon {_p(t.p)})",
            bool(t.median_diff > 0 and t.p < ALPHA))


# -- image paper -----------------------------------------------------------------------------

def ces_dci_within(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "ces", "dci")
    r = stats.within_correlation(rows, col("ces"), col("dci"), "dataset")
    if not np.isfinite(r.r):
        raise _Missing(f"within-dataset correlation undefined (n={r.n})")
    per = []
    for ds, g in rows.groupby("dataset"):
        rr = stats.correlation(g, col("ces"), col("dci"))
        per.append(f"{ds} {_fmt(rr.r, 2)}")
    return (f"within-dataset r={_fmt(r.r)}, {_p(r.p)}, n={r.n}; per dataset: " + ", ".join(per),
            bool(r.r < 0 and r.p < ALPHA))


def _pair(pairs: pd.DataFrame, metric: str, a: str, b: str) -> tuple[float, float, bool]:
    """(mean a - mean b, adjusted p, rejected) of the pairwise row for a vs b."""
    m = pairs[(pairs["metric"] == col(metric))
              & (((pairs["a"] == a) & (pairs["b"] == b)) | ((pairs["a"] == b) & (pairs["b"] == a)))]
    if m.empty or m["n"].iloc[0] == 0:
        raise _Missing(f"no paired {metric} comparison of {a} and {b}")
    r = m.iloc[0]
    diff = r["mean_a"] - r["mean_b"]
    if r["a"] != a:
        diff = -diff
    return float(diff), float(r["p_adj"]), bool(r["reject"])


def betavae_bottleneck(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "mse", "ces")
    dm, pm, rm = _pair(pairs, "mse", "beta_vae", "vae")
    dc, pc, rc = _pair(pairs, "ces", "beta_vae", "vae")
    return (f"beta-VAE - VAE: MSE {_fmt(dm)} (Holm-Sidak {_p(pm)}), CES {_fmt(dc)} "
            f"({_p(pc)})"), bool(dm > 0 and rm and dc < 0 and rc)


def no_dominance(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    best = {}
    for m, c in METRICS.items():
        if c not in rows.columns or m in ("ces_fixed",):
            continue
        means = pd.to_numeric(rows[c], errors="coerce").groupby(rows["architecture"]).mean()
        means = means.dropna()
        if len(means) < 2:
            continue
        best[m] = means.idxmin() if m in LOWER_IS_BETTER else means.idxmax()
    if len(best) < 2:
        raise _Missing("fewer than 2 metrics with values for 2+ architectures")
    winners = sorted(set(best.values()))
    text = "best per metric: " + ", ".join(f"{m} {a}" for m, a in sorted(best.items()))
    return text, len(winners) > 1


def vq_ces_zero(rows: pd.DataFrame, pairs: pd.DataFrame) -> tuple[str, bool | None]:
    _has(rows, "ces")
    c = pd.to_numeric(rows[col("ces")], errors="coerce")
    vq = c[rows["architecture"] == "vq_vae"].dropna()
    other = c[rows["architecture"] != "vq_vae"].dropna()
    if vq.empty or other.empty:
        raise _Missing("needs vq_vae and continuous-latent runs with CES")
    ratio = vq.mean() / other.mean() if other.mean() > 0 else np.nan
    return (f"VQ-VAE CES {_fmt(vq.mean())} = {_fmt(ratio)} x the continuous models' mean "
            f"{_fmt(other.mean())}"), bool(np.isfinite(ratio) and ratio < 0.1)


#: (key, study, claim, paper's number, rule, function)
FINDINGS: tuple[tuple[str, str, str, str, str, Callable[..., tuple[str, bool | None]]], ...] = (
    ("modularity_domain", "tabular", "Tabular circuit modularity is ~50% lower than image",
     "tabular/image ~ 0.5",
     "mean modularity tabular < image and one-sided Mann-Whitney U p < .05 (default variant "
     "decides; all variants listed)", modularity_domain),
    ("betavae_ces_domain", "tabular", "beta-VAE CES is lower on tabular than image data",
     "0.043 vs 0.133", "beta-VAE mean CES tabular < image, one-sided Mann-Whitney U p < .05",
     betavae_ces_domain),
    ("betavae_adult_drop", "tabular", "beta-VAE CES collapses on Adult vs the standard VAE",
     "~0.0003, 260-fold drop",
     "beta-VAE CES < VAE CES in every seed on adult and mean fold drop >= 10 (3 seeds cannot "
     "reach Wilcoxon significance)", betavae_adult_drop),
    ("ces_mse", "tabular", "CES correlates negatively with reconstruction MSE", "r = -0.886",
     "Pearson r < 0 and p < .05 over runs", _corr("ces", "mse", -1)),
    ("ces_captures", "tabular", "CES captures most significant architecture differences",
     "9 of 11",
     "of the architecture pairs significant (Wilcoxon, Holm-Sidak) in any other metric, "
     ">= 50% are also significant in CES", ces_captures),
    ("specificity_auc", "tabular", "Specificity correlates positively with downstream AUC",
     "r = 0.460, p < .001", "Pearson r > 0 and p < .05 over runs",
     _corr("specificity", "auc", 1)),
    ("semantic_vs_random", "tabular", "Semantic grouping gives higher modularity than random",
     "0.099 vs 0.080", "median paired difference > 0 and one-sided Wilcoxon p < .05",
     semantic_vs_random),
    ("ces_dci_within", "image", "Within a dataset, CES and DCI correlate negatively",
     "negative r", "within-dataset (dataset-demeaned) Pearson r < 0 and p < .05",
     ces_dci_within),
    ("betavae_bottleneck", "image",
     "beta-VAE has a capacity bottleneck (worse reconstruction, less causal effect)",
     "qualitative", "beta-VAE MSE > VAE and CES < VAE, both Holm-Sidak significant",
     betavae_bottleneck),
    ("no_dominance", "image", "No architecture dominates across metrics", "qualitative",
     "the best architecture (by mean) differs between at least two metrics", no_dominance),
    ("vq_ces_zero", "image", "VQ-VAE continuous CES is ~0", "CES ~ 0",
     "VQ-VAE mean CES < 0.1 x the continuous architectures' mean", vq_ces_zero),
)


def with_domain(rows: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``rows`` with a ``domain`` column (tabular/image) from the dataset name."""
    out = rows.copy()
    out["domain"] = out["dataset"].map(DOMAIN) if "dataset" in out else pd.Series(dtype=object)
    return out


def evaluate(rows: pd.DataFrame, pairs: pd.DataFrame, study: str | None = None) -> list[Finding]:
    """Every finding (of ``study``, or all), each with its verdict. ``rows``: ok runs only."""
    rows = with_domain(rows)
    out = []
    for key, st, claim, paper, rule, fn in FINDINGS:
        if study is not None and st != study:
            continue
        try:
            ours, ok = fn(rows, pairs)
            status = _verdict(ok)
        except _Missing as e:
            ours, status = f"not computable: {e}", NOT_COMPUTABLE
        except Exception as e:  # noqa: BLE001 - a report must render on partial results
            ours, status = f"not computable: {type(e).__name__}: {e}", NOT_COMPUTABLE
        out.append(Finding(key, st, claim, paper, ours, status, rule))
    return out
