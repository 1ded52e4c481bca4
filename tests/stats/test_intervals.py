"""Confidence intervals of the verdict rules: Fisher z for r, Wilson for k of n, bootstrap
for a ratio of means."""

import numpy as np
import pandas as pd
import pytest

from circuitvae import stats
from circuitvae.protocol import CircuitVAEError

Z = 1.959963984540054


def test_fisher_ci_hand_computed():
    # r = 0.5, n = 28: z = atanh(.5) = 0.549306, se = 1/sqrt(25) = 0.2, half = 0.391993
    lo, hi = stats.fisher_ci(0.5, 28)
    assert (lo, hi) == pytest.approx((np.tanh(0.5493061 - 0.3919928),
                                      np.tanh(0.5493061 + 0.3919928)), abs=1e-6)
    assert (lo, hi) == pytest.approx((0.15603, 0.73582), abs=1e-4)
    # 5 groups removed: se = 1/sqrt(n - 5 - 2)
    lo5, hi5 = stats.fisher_ci(0.5, 32, groups=5)
    assert (lo5, hi5) == pytest.approx((lo, hi), abs=1e-12)
    assert np.isnan(stats.fisher_ci(0.5, 3)[0]) and np.isnan(stats.fisher_ci(np.nan, 50)[1])
    assert stats.fisher_ci(-1.0, 10) == (-1.0, -1.0)


def test_correlation_ci_uses_the_groups_removed():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"dataset": np.repeat(["a", "b", "c", "d"], 10),
                       "x": rng.normal(size=40)})
    df["y"] = -df["x"] + rng.normal(size=40) + df["dataset"].map({"a": 0, "b": 5, "c": 9,
                                                                   "d": 2})
    pooled = stats.correlation(df, "x", "y")
    within = stats.within_correlation(df, "x", "y", "dataset")
    assert pooled.groups == 1 and within.groups == 4
    assert pooled.ci() == stats.fisher_ci(pooled.r, 40, 1)
    assert within.ci() == stats.fisher_ci(within.r, 40, 4)
    lo, hi = within.ci()
    assert lo < within.r < hi < 0


def test_wilson_ci_hand_computed():
    lo, hi = stats.wilson_ci(9, 11)
    assert (lo, hi) == pytest.approx((0.52302, 0.94863), abs=1e-4)
    # closed forms at the edges: k = 0 -> [0, z^2 / (n + z^2)], k = n -> [n / (n + z^2), 1]
    assert stats.wilson_ci(0, 10) == pytest.approx((0.0, Z**2 / (10 + Z**2)))
    assert stats.wilson_ci(20, 20) == pytest.approx((20 / (20 + Z**2), 1.0))
    assert all(np.isnan(stats.wilson_ci(0, 0)))
    with pytest.raises(CircuitVAEError, match="0 <= k <= n"):
        stats.wilson_ci(5, 4)


def test_ratio_ci_unpaired_and_paired():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.9, 1.1, 30), rng.uniform(1.8, 2.2, 20)
    ci = stats.ratio_ci(a, b)
    assert ci.estimate == pytest.approx(a.mean() / b.mean())
    assert ci.low < 0.5 < ci.high and ci.high - ci.low < 0.1 and ci.n == 20
    assert stats.ratio_ci(a, b) == ci  # seeded
    # paired: b = 2 a exactly gives a zero-width interval at 0.5 up to rounding
    p = stats.ratio_ci(a, 2 * a, paired=True)
    assert p.low == pytest.approx(0.5) and p.high == pytest.approx(0.5)
    # paired drops a run with NaN on either side
    p = stats.ratio_ci(np.r_[a, np.nan], np.r_[2 * a, 1.0], paired=True)
    assert p.n == 30 and p.estimate == pytest.approx(0.5)
    with pytest.raises(CircuitVAEError, match="equal lengths"):
        stats.ratio_ci(a, b, paired=True)


def test_ratio_ci_degenerate():
    one = stats.ratio_ci([1.0], [2.0, 3.0])
    assert one.estimate == pytest.approx(0.4) and np.isnan(one.low) and one.n == 1
    zero = stats.ratio_ci([1.0, 2.0], [0.0, 0.0])
    assert np.isnan(zero.estimate) and np.isnan(zero.high)
    const = stats.ratio_ci([1.0, 1.0], [4.0, 4.0])
    assert (const.low, const.high) == (0.25, 0.25)
