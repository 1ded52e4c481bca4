"""partial_within: the within-dataset partial correlation given a control."""

import numpy as np
import pandas as pd
import pytest

from circuitvae.stats import partial_within, within_correlation


def _rows(n=40, seed=0, shared=1.0, own=0.0):
    """x and y both driven by a control c (per-dataset slopes), plus a common part `own`."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, slope in (("a", 1.0), ("b", -3.0), ("c", 0.5)):
        c = rng.normal(size=n)
        common = rng.normal(size=n)
        x = shared * slope * c + own * common + 0.3 * rng.normal(size=n)
        y = shared * 2 * slope * c + own * common + 0.3 * rng.normal(size=n)
        frames.append(pd.DataFrame({"dataset": name, "x": x, "y": y, "c": c}))
    return pd.concat(frames, ignore_index=True)


def test_a_correlation_made_by_the_control_vanishes_given_it():
    rows = _rows()
    within = within_correlation(rows, "x", "y")
    partial = partial_within(rows, "x", "y", "c")
    assert within.r > 0.9 and within.p < 1e-10
    assert abs(partial.r) < 0.25 and partial.p > 0.01
    assert partial.n == 120 and partial.groups == 6
    lo, hi = partial.ci()
    assert lo < 0 < hi


def test_a_correlation_beyond_the_control_survives():
    partial = partial_within(_rows(own=1.0), "x", "y", "c")
    assert partial.r > 0.7 and partial.p < 1e-10


def test_matches_a_hand_computed_residual_correlation():
    rows = _rows(n=15, own=0.5, seed=3)
    res = []
    for _, g in rows.groupby("dataset"):
        design = np.column_stack([np.ones(len(g)), g["c"]])
        rx = g["x"] - design @ np.linalg.lstsq(design, g["x"], rcond=None)[0]
        ry = g["y"] - design @ np.linalg.lstsq(design, g["y"], rcond=None)[0]
        res.append(np.column_stack([rx, ry]))
    rx, ry = np.concatenate(res).T
    expected = (rx * ry).sum() / np.sqrt((rx**2).sum() * (ry**2).sum())
    got = partial_within(rows, "x", "y", "c")
    assert got.r == pytest.approx(expected, rel=1e-12)
    # df = n - 2g - 1 = 45 - 6 - 1
    from scipy import stats as sps
    t = expected * np.sqrt(38 / (1 - expected**2))
    assert got.p == pytest.approx(2 * sps.t.sf(abs(t), 38), rel=1e-9)


def test_too_few_runs_is_not_computable():
    rows = _rows(n=2)
    got = partial_within(rows, "x", "y", "c")
    assert np.isnan(got.r) and np.isnan(got.p)


def test_columns_must_differ():
    from circuitvae.protocol import CircuitVAEError

    with pytest.raises(CircuitVAEError, match="four different columns"):
        partial_within(_rows(), "x", "y", "x")
