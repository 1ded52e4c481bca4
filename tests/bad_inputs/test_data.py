"""Degenerate and malformed data: one row, zero variance, overflow, NaN/Inf, empty, wrong shape.
Each gets a clear error (or a warning), never a number made of rounding noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae import CircuitVAEError
from circuitvae.protocol import Split

ONE_ROW = r"needs at least 2 rows, got 1: sigma_eff .* over one row is 0"


def _one_row():
    return torch.randn(1, 6, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("scale", ["means", "total"])
def test_ces_one_row_calibrated(model, scale):
    with pytest.raises(CircuitVAEError, match=r"CES: the calibrated sweep " + ONE_ROW):
        cv.ces(model, _one_row(), scale=scale)


def test_ces_one_row_drawn_by_n(model, x):
    with pytest.raises(CircuitVAEError, match=ONE_ROW):
        cv.ces(model, x, n=1)


def test_ces_one_row_fixed_range_is_fine(model):
    res = cv.ces(model, _one_row(), calibrated=False, k=3)
    assert np.isfinite(res.value) and res.value > 1e-4


def test_ces_one_row_prior_scale_is_fine(model):
    assert np.isfinite(cv.ces(model, _one_row(), scale="prior", k=3).value)


def test_specificity_one_row(model):
    with pytest.raises(CircuitVAEError, match=r"specificity: the calibrated sweep " + ONE_ROW):
        cv.specificity(model, _one_row())


def test_modularity_latent_one_row(model):
    with pytest.raises(CircuitVAEError, match=r"modularity: the calibrated sweep " + ONE_ROW):
        cv.modularity(model, _one_row(), level="latent")


def test_modularity_ridgeway_one_row(model):
    with pytest.raises(CircuitVAEError, match=ONE_ROW):
        cv.modularity(model, _one_row(), method="ridgeway")


def test_analyze_one_row(model):
    with pytest.raises(CircuitVAEError, match=r"analyze: the calibrated sweep " + ONE_ROW):
        cv.analyze(model, _one_row(), metrics="interventional")


def test_analyze_one_row_split(model):
    with pytest.raises(CircuitVAEError, match=ONE_ROW):
        cv.analyze(model, Split(_one_row()), metrics=["ces"])


def test_zero_variance_codes_warn(x, bad):
    with pytest.warns(UserWarning, match=r"sigma_eff \(scale='means'\) is 0 for latent\(s\) "
                                         r"\[0, 1, 2\]"):
        res = cv.ces(bad.ConstantEncode(), x, k=3)
    assert res.value == 0.0


def test_identical_rows_warn(model):
    rows = _one_row().repeat(5, 1)
    with pytest.warns(UserWarning, match=r"CES: sigma_eff .* is 0 for latent\(s\)"):
        cv.ces(model, rows, k=3)


def test_zero_variance_specificity_warns(x, bad):
    with pytest.warns(UserWarning, match=r"specificity: sigma_eff .* is 0"):
        cv.specificity(bad.ConstantEncode(), x, k=3)


OVERFLOW = r"(not finite|overflowed)"


@pytest.mark.parametrize("fn", ["ces", "specificity"])
def test_huge_inputs_overflow(model, fn):
    x = torch.full((4, 6), 3e38)
    x[1] *= -1
    with pytest.raises(CircuitVAEError, match=OVERFLOW):
        getattr(cv, fn)(model, x, k=3)


def test_encoder_overflow_names_encode(bad):
    class LoudEncode(bad.TinyVAE):
        def encode(self, x):
            post = super().encode(x)
            return cv.Posterior(post.mean * 1e38 * 1e38, post.logvar)

    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(2))
    with pytest.raises(CircuitVAEError, match=r"sigma_eff is not finite for latent\(s\) "
                                              r"\[0, 1, 2\]: LoudEncode\.encode overflowed"):
        cv.ces(LoudEncode(), x, k=3)


def test_huge_inputs_never_return_inf(model):
    x = torch.full((4, 6), 3e38)
    x[1] *= -1
    with pytest.raises(CircuitVAEError, match=r"latent sweep of TinyVAE is not finite"):
        cv.ces(model, x, k=3)


def test_decoder_overflow_in_the_sweep(x, bad):
    with pytest.raises(CircuitVAEError, match=r"latent sweep of OverflowDecode is not finite"):
        cv.ces(bad.OverflowDecode(), x, k=3)


def test_decoder_overflow_fixed_sweep(x, bad):
    with pytest.raises(CircuitVAEError, match=r"overflowed or are NaN"):
        cv.ces(bad.OverflowDecode(), x, k=3, calibrated=False)


def test_decoder_overflow_modularity_latent(x, bad):
    with pytest.raises(CircuitVAEError, match=r"is not finite"):
        cv.modularity(bad.OverflowDecode(), x, k=3, level="latent")


def test_analyze_overflow_is_reported_not_inf(x, bad):
    df = cv.analyze(bad.OverflowDecode(), x, metrics=["ces"], k=3)
    assert np.isnan(df["ces_calibrated"].iloc[0])
    assert "not finite" in df["skipped"].iloc[0]


def test_analyze_overflow_strict_raises(x, bad):
    with pytest.raises(CircuitVAEError, match=r"is not finite"):
        cv.analyze(bad.OverflowDecode(), x, metrics=["ces"], k=3, strict=True)


BAD_DATA = [
    (torch.full((4, 6), float("nan")), r"data contains NaN values in 4 row\(s\), first at row 0"),
    (torch.tensor([[0.0] * 5 + [float("inf")]] * 3), r"data contains Inf values in 3 row\(s\)"),
    (torch.empty(0, 6), r"data is empty \(shape \(0, 6\)\)"),
    (torch.tensor(1.0), r"data is empty \(shape \(\)\)"),
    (torch.randn(4, 5), r"data has shape \(4, 5\), but TinyVAE expects \(N, 6\)"),
    (torch.randn(4, 6, 1), r"data has shape \(4, 6, 1\), but TinyVAE expects \(N, 6\)"),
    (np.array([["a"] * 6] * 3), r"data must be numeric, got an array of dtype <U1"),
    (torch.ones(3, 6, dtype=torch.bool), r"data must be numeric, got dtype torch\.bool"),
    ("not data", r"data must be a tensor or array, got str"),
    (None, r"data must be a tensor or array, got NoneType"),
]


@pytest.mark.parametrize(("data", "match"), BAD_DATA, ids=[m[:24] for _, m in BAD_DATA])
@pytest.mark.parametrize("fn", ["ces", "specificity", "analyze"])
def test_bad_data(model, data, match, fn):
    with pytest.raises(CircuitVAEError, match=match):
        getattr(cv, fn)(model, data)


@pytest.mark.parametrize(("data", "match"), BAD_DATA[:5], ids=[m[:24] for _, m in BAD_DATA[:5]])
def test_bad_data_modularity_latent(model, data, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.modularity(model, data, level="latent")


def test_nan_in_one_row_names_the_row(model, x):
    x = x.clone()
    x[7, 2] = float("nan")
    with pytest.raises(CircuitVAEError, match=r"NaN values in 1 row\(s\), first at row 7"):
        cv.ces(model, x)


def test_two_rows_is_enough(model, bad):
    rows = torch.randn(2, 6, generator=torch.Generator().manual_seed(5))
    assert np.isfinite(cv.ces(bad.TinyVAE(), rows, k=3).value)
