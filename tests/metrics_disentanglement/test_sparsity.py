"""Sparsity metrics on activation matrices with known answers, and the training callback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.metrics.sparsity import (
    SparsityTracker,
    dead_units,
    factor_selectivity,
    feature_density,
    l0,
    mutual_info_columns,
    site_sparsity,
)

# 4 rows x 5 units: unit 0 always on, unit 1 on in one row with a tiny value, unit 2 never,
# unit 3 negative only (dead: never above 0), unit 4 on in two rows
ACTS = np.array([
    [1.0, 0.0, 0.0, -1.0, 2.0],
    [1.0, 5e-4, 0.0, -2.0, 0.0],
    [1.0, 0.0, 0.0, -1.0, 2.0],
    [1.0, 0.0, 0.0, -3.0, 0.0],
])


def test_dead_rates_at_each_threshold():
    res = dead_units(ACTS, thresholds=(0.0, 1e-6, 1e-3, 1e-2, "relative"))
    assert res.rates == {"0.0": 0.4, "1e-06": 0.4, "0.001": 0.6, "0.01": 0.6,
                         "relative": 0.6}
    np.testing.assert_array_equal(res.dead["0.0"], [False, False, True, True, False])
    positive = ACTS[ACTS > 0]
    assert res.values["relative"] == pytest.approx(0.01 * positive.mean())
    assert (res.n_rows, res.n_units) == (4, 5)


def test_l0_and_density():
    np.testing.assert_array_equal(l0(ACTS), [2, 2, 2, 1])
    np.testing.assert_array_equal(l0(ACTS, tau=1e-3), [2, 1, 2, 1])
    dens = feature_density(ACTS, bins=10)
    np.testing.assert_allclose(dens.density, [1.0, 0.25, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(dens.log10, np.log10(dens.density + 1e-10))
    assert dens.hist.sum() == 5 and dens.hist[0] == 2  # the two never-active units


def test_convolution_channels_reduce_to_their_largest_activation():
    conv = np.zeros((3, 2, 4, 4))
    conv[0, 0, 1, 2] = 0.5  # channel 0 active once, at one position; channel 1 never
    res = dead_units(conv, thresholds=(0.0,))
    np.testing.assert_array_equal(res.dead["0.0"], [False, True])


def test_factor_selectivity_finds_the_unit_of_each_factor():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 4, size=(2000, 2))
    acts = np.column_stack([f[:, 0] + 0.01 * rng.normal(size=2000),  # reads factor 0
                            f[:, 1] * 1.0,                            # reads factor 1
                            rng.normal(size=2000),                    # noise
                            np.zeros(2000)])                          # dead
    sel = factor_selectivity(acts, f)
    assert sel.best_factor.tolist()[:2] == [0, 1] and sel.best_factor[3] == -1
    assert sel.selectivity[0] > 0.95 and sel.selectivity[1] > 0.95
    assert sel.selectivity[2] < 0.05 and sel.selectivity[3] == 0.0
    np.testing.assert_allclose(sel.mi[0, 0], np.log(4), rtol=0.02)  # uniform on 4 values


@pytest.mark.parametrize(("call", "match"), [
    (lambda: dead_units(np.zeros((0, 3))), "empty"),
    (lambda: dead_units(np.array([[np.nan, 1.0]])), "NaN"),
    (lambda: dead_units(np.zeros(3)), r"\(N, units\)"),
    (lambda: dead_units(ACTS, thresholds=(-1.0,)), "threshold"),
    (lambda: dead_units(ACTS, thresholds=()), "empty"),
    (lambda: factor_selectivity(ACTS, np.zeros((3, 1))), "N = 4 rows"),
    (lambda: feature_density(ACTS, bins=0), "bins"),
    # an empty 3-D activation is named before it is reduced per channel
    (lambda: dead_units(np.zeros((0, 4, 3))), "empty"),
    (lambda: dead_units(np.zeros((6, 4, 0))), "empty"),
    (lambda: dead_units([[1.0, 2.0], [3.0]]), "rectangular"),
    (lambda: dead_units(ACTS.astype(complex)), "real numbers"),
    # factors: whole-number classes only, at least one column, and one that varies
    (lambda: factor_selectivity(ACTS, np.array([0.1, 0.5, 0.2, 0.9])), "integer class labels"),
    (lambda: factor_selectivity(ACTS, np.zeros((4, 0))), "K >= 1"),
    (lambda: factor_selectivity(ACTS, np.zeros((4, 2))), "no column of factors varies"),
    (lambda: mutual_info_columns(np.zeros(4, int), np.zeros(4, int)), "labels must be"),
    (lambda: mutual_info_columns(np.zeros((4, 2), int), np.zeros(3, int)), "target must be"),
    (lambda: mutual_info_columns(np.zeros((4, 2), int), np.zeros(4)), "target must be"),
    # the tracker checks its arguments when it is made, not after the first epoch
    (lambda: SparsityTracker("sparse", None), "x_eval"),
    (lambda: SparsityTracker("sparse", np.zeros((0, 3))), "x_eval"),
    (lambda: SparsityTracker(3, ACTS), "site must be"),
    (lambda: SparsityTracker("sparse", ACTS, tau=-1), "threshold"),
    (lambda: SparsityTracker("sparse", ACTS, thresholds=[]), "thresholds is empty"),
])
def test_bad_inputs_are_named(call, match):
    with pytest.raises(cv.CircuitVAEError, match=match):
        call()


def test_site_sparsity_and_the_training_callback():
    from circuitvae.zoo import build, train

    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    model = build("vae", input_shape=(6,), seed=0, hidden=(16, 8))
    res = site_sparsity(model, x, "encoder.1")
    assert res.acts.shape == (200, 16) and 0 <= res.dead.rates["0.0"] <= 1
    assert res.l0_mean == pytest.approx((res.acts > 0).sum(1).mean())
    tracker = SparsityTracker("encoder.1", x[:50])
    model = train(model, x, seed=0, max_epochs=3, batch_size=32, verbose=False,
                  callbacks=[tracker])
    assert all({"dead_0.0", "dead_relative", "l0"} <= set(row) for row in model.history)
    assert len(tracker.densities) == 3
    with pytest.raises(cv.CircuitVAEError, match="already has"):
        train(build("vae", input_shape=(6,), seed=0), x, max_epochs=1, verbose=False,
              callbacks=[lambda m, e: {"lr": 1.0}])


def test_negative_conv_channels_are_dead_like_negative_units():
    conv = -np.ones((3, 2, 2, 2))
    conv[:, 1] = 0.5
    np.testing.assert_array_equal(dead_units(conv, thresholds=(0.0,)).dead["0.0"], [True, False])


@pytest.mark.parametrize("tau", [None, [0.1], True, float("nan")])
def test_bad_thresholds_are_named(tau):
    with pytest.raises(cv.CircuitVAEError, match="threshold"):
        l0(ACTS, tau=tau)


def test_bad_factors_and_callbacks_are_named():
    from circuitvae.zoo import build, train

    with pytest.raises(cv.CircuitVAEError, match="finite"):
        factor_selectivity(ACTS, np.array([0.0, np.nan, 1.0, 2.0]))
    x = torch.randn(40, 6)
    model = build("vae", input_shape=(6,), seed=0)
    with pytest.raises(cv.CircuitVAEError, match="must return a dict"):
        train(model, x, max_epochs=1, verbose=False, callbacks=[lambda m, e: 1.0])
    with pytest.raises(cv.CircuitVAEError, match="not a number"):
        train(model, x, max_epochs=1, verbose=False, callbacks=[lambda m, e: {"k": "x"}])
    with pytest.raises(cv.CircuitVAEError, match="callables"):
        train(model, x, max_epochs=1, verbose=False, callbacks=[3])
    one = train(model, x, max_epochs=1, verbose=False, callbacks=lambda m, e: {"k": 2})
    assert one.history[0]["k"] == 2.0  # a lone callable is accepted


def test_a_single_threshold_and_an_array_of_thresholds_are_accepted():
    assert dead_units(ACTS, thresholds=1e-3).rates == {"0.001": 0.6}
    assert dead_units(ACTS, thresholds="relative").rates == dead_units(
        ACTS, thresholds=("relative",)).rates
    assert dead_units(ACTS, thresholds=np.array([0.0, 1e-3])).rates == {"0.0": 0.4,
                                                                      "0.001": 0.6}
    assert SparsityTracker("sparse", ACTS, thresholds=0.01).thresholds == (0.01,)


def test_relative_threshold_does_not_overflow_near_the_float_limit():
    # every value is positive: no unit is dead, however large the values
    huge = np.full((3, 2), 1e308)
    assert dead_units(huge, thresholds=("relative",)).rates == {"relative": 0.0}
    np.testing.assert_allclose(dead_units(huge, thresholds=("relative",)).values["relative"],
                               1e306)


def test_whole_number_float_factors_are_classes():
    f = np.array([0, 1, 2, 3])
    a = factor_selectivity(ACTS, f)
    b = factor_selectivity(ACTS, f.astype(float))
    np.testing.assert_array_equal(a.mi, b.mi)
