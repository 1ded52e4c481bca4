import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from circuitvae import stats
from circuitvae.protocol import CircuitVAEError


def test_holm_sidak_hand_computed():
    # sorted: 0.005, 0.01, 0.03, 0.04 (m = 4)
    # 1-(1-.005)^4 = 0.019850499375; 1-(1-.01)^3 = 0.029701; 1-(1-.03)^2 = 0.0591;
    # 1-(1-.04)^1 = 0.04 -> step-down maximum keeps 0.0591
    r = stats.holm_sidak([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert r.p_adjusted == pytest.approx([0.029701, 0.0591, 0.0591, 0.019850499375], abs=1e-12)
    assert r.reject.tolist() == [True, False, False, True]


def test_holm_sidak_matches_the_formula_written_out():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=7)
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    expected = [0.0] * m
    running = 0.0
    for k, i in enumerate(order, start=1):
        running = max(running, 1 - (1 - p[i]) ** (m - k + 1))
        expected[i] = min(1.0, running)
    r = stats.holm_sidak(p, alpha=0.1)
    assert r.p_adjusted == pytest.approx(expected, abs=1e-15)
    assert r.reject.tolist() == [e <= 0.1 for e in expected]


def test_holm_sidak_nan_and_caps_and_errors():
    r = stats.holm_sidak([0.5, np.nan, 0.9])
    # NaN is left out of the family: m = 2
    assert np.isnan(r.p_adjusted[1]) and not r.reject[1]
    assert r.p_adjusted[[0, 2]] == pytest.approx([1 - 0.5**2, 0.9])
    assert stats.holm_sidak([1.0, 1.0]).p_adjusted.tolist() == [1.0, 1.0]
    with pytest.raises(CircuitVAEError, match=r"\[0, 1\]"):
        stats.holm_sidak([0.1, 1.5])
    with pytest.raises(CircuitVAEError, match="alpha"):
        stats.holm_sidak([0.1], alpha=0)


def _paired_rows(seed=0):
    rng = np.random.default_rng(seed)
    recs = []
    for d in ("d1", "d2", "d3"):
        for s in (1, 2, 3):
            base = rng.uniform(0, 10)  # large between-pair variation
            delta = rng.uniform(0.01, 0.1)
            recs.append({"architecture": "x", "dataset": d, "seed": s, "m": base})
            recs.append({"architecture": "y", "dataset": d, "seed": s, "m": base + delta})
    return pd.DataFrame(recs)


def test_wilcoxon_pairs_by_dataset_and_seed():
    rows = _paired_rows()
    t = stats.pairwise_wilcoxon(rows, "m")
    assert len(t) == 1 and (t.loc[0, "a"], t.loc[0, "b"]) == ("x", "y")
    x = rows[rows.architecture == "x"].set_index(["dataset", "seed"])["m"]
    y = rows[rows.architecture == "y"].set_index(["dataset", "seed"])["m"]
    d = (x - y.loc[x.index]).to_numpy()
    assert t.loc[0, "p"] == pytest.approx(sps.wilcoxon(d).pvalue)
    assert t.loc[0, "p"] == pytest.approx(2 / 2**9)  # every pair has y > x: exact minimum
    assert t.loc[0, "median_diff"] < 0 and t.loc[0, "n"] == 9
    # row order does not matter: pairing is by (dataset, seed)
    shuffled = rows.sample(frac=1.0, random_state=3)
    assert stats.pairwise_wilcoxon(shuffled, "m").equals(t)
    # unpaired with a mismatched pairing the test is not significant
    y_wrong = rows[rows.architecture == "y"]["m"].to_numpy()[::-1]
    assert sps.wilcoxon(x.to_numpy() - y_wrong).pvalue > t.loc[0, "p"]


def test_pairwise_table_drops_nan_pairs_and_families():
    rows = _paired_rows()
    rows.loc[0, "m"] = np.nan
    rows["k"] = 1.0
    tab = stats.pairwise_table(rows, ["m", "k", "absent"])
    assert list(tab["metric"]) == ["m", "k"]
    assert tab.loc[0, "n"] == 8
    assert tab.loc[1, "p"] == 1.0 and not tab.loc[1, "reject"]  # all differences zero


def test_correlations():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20)
    rows = pd.DataFrame({"x": x, "y": -x + rng.normal(0, 0.5, 20)})
    c = stats.correlation(rows, "x", "y")
    assert c.r == pytest.approx(np.corrcoef(rows.x, rows.y)[0, 1]) and c.n == 20
    assert c.p == pytest.approx(sps.pearsonr(rows.x, rows.y).pvalue)
    assert np.isnan(stats.correlation(rows.head(2), "x", "y").r)
    with pytest.raises(CircuitVAEError, match="lack column"):
        stats.correlation(rows, "x", "z")


def test_within_correlation_removes_dataset_means():
    # between datasets x and y rise together, within each dataset they fall
    rows = pd.DataFrame({"dataset": ["a"] * 4 + ["b"] * 4,
                         "x": [0, 1, 2, 3, 10, 11, 12, 13.0],
                         "y": [3, 2.5, 1, 0.2, 13, 12.1, 11, 10.4]})
    assert stats.correlation(rows, "x", "y").r > 0
    w = stats.within_correlation(rows, "x", "y")
    cx = rows.x - rows.groupby("dataset").x.transform("mean")
    cy = rows.y - rows.groupby("dataset").y.transform("mean")
    r = np.sum(cx * cy) / np.sqrt(np.sum(cx**2) * np.sum(cy**2))
    assert w.r == pytest.approx(r) and w.r < 0
    t = r * np.sqrt(5 / (1 - r**2))  # df = 8 - 2 - 1
    assert w.p == pytest.approx(2 * sps.t.sf(abs(t), 5))


def test_paired_and_group_tests():
    rows = pd.DataFrame({"sem": [0.3, 0.5, 0.2, 0.4, 0.6], "rnd": [0.2, 0.45, 0.1, 0.3, 0.5],
                         "dom": ["t", "t", "i", "i", "i"]})
    t = stats.paired_test(rows, "sem", "rnd", alternative="greater")
    assert t.n == 5 and t.p == pytest.approx(sps.wilcoxon(rows["sem"] - rows["rnd"],
                                                          alternative="greater").pvalue)
    assert t.median_diff == pytest.approx(0.1)
    g = stats.group_test(rows, "sem", "dom", "t", "i")
    assert (g.n_a, g.n_b) == (2, 3)
    assert g.ratio == pytest.approx(0.4 / 0.4)


def test_bootstrap_ci_is_seeded():
    x = np.random.default_rng(5).normal(size=30)
    a, b = stats.bootstrap_ci(x, seed=1), stats.bootstrap_ci(x, seed=1)
    c = stats.bootstrap_ci(x, seed=2)
    assert a == b and (a.low, a.high) != (c.low, c.high)
    assert a.estimate == pytest.approx(x.mean()) and a.n == 30
    assert a.low < a.estimate < a.high
    assert np.isnan(stats.bootstrap_ci([1.0]).low)
    assert stats.bootstrap_ci([2.0, 2.0, np.nan]) == stats.CI(2.0, 2.0, 2.0, 2, 0.95)


def test_summary_ci():
    rows = pd.DataFrame({"architecture": ["a", "a", "b", "b"], "m": [1.0, 3.0, 5.0, np.nan]})
    s = stats.summary_ci(rows, ["m", "absent"])
    assert list(s.columns) == ["architecture", "metric", "n", "mean", "low", "high"]
    assert s["mean"].tolist() == [2.0, 5.0] and s["n"].tolist() == [2, 1]
