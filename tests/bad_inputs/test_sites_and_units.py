"""Bad sites, unit indices and patch values: cv.Patch, cv.patching, cv.run, cv.patch,
cv.path_patch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae import CircuitVAEError, SiteError

BAD_UNITS = [
    ([0.7], r"units must be integer unit indices, got 0\.7 \(float\) in \[0\.7\]"),
    ([0, 1.0], r"units must be integer unit indices, got 1\.0 \(float\)"),
    ([True], r"units must be integer unit indices, got True \(bool\)"),
    (["a"], r"units must be integer unit indices, got 'a' \(str\)"),
    ("01", r"units must be None, a sequence of integer unit indices or a boolean mask, got '01'"),
    (0.7, r"units must be None, a sequence .* got 0\.7 \(float\)"),
    (torch.tensor([0.7]), r"units must be integer unit indices or a boolean mask, got a tensor "
                          r"of dtype torch\.float32"),
    (np.array([0.5, 1.5]), r"units must be integer unit indices or a boolean mask, got an array "
                           r"of dtype float64"),
]


def _ids(cases):
    return [repr(u)[:20] for u, _ in cases]


@pytest.mark.parametrize(("units", "match"), BAD_UNITS, ids=_ids(BAD_UNITS))
def test_patch_object_rejects_units(units, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.Patch(torch.zeros(8), units)


@pytest.mark.parametrize(("units", "match"), BAD_UNITS, ids=_ids(BAD_UNITS))
def test_activation_patch_rejects_units(model, x, units, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.patch(model, x, x.flip(0), site="encoder.0", units=units)


@pytest.mark.parametrize(("units", "match"), BAD_UNITS[:4], ids=_ids(BAD_UNITS[:4]))
def test_path_patch_rejects_units(model, x, units, match):
    with pytest.raises(CircuitVAEError, match=r"units of site 'encoder\.0' in path must be"):
        cv.path_patch(model, x, x.flip(0), {"encoder.0": units})


GOOD_UNITS = [[0, 2], (1,), range(3), np.array([0, 1]), torch.tensor([2]),
              torch.zeros(8, dtype=torch.bool), [np.int64(3)], None]


@pytest.mark.parametrize("units", GOOD_UNITS, ids=[repr(u)[:20] for u in GOOD_UNITS])
def test_integer_units_are_accepted(model, x, units):
    res = cv.patch(model, x, x.flip(0), site="encoder.0", units=units)
    assert np.isfinite(res.effect)


def test_float_unit_no_longer_acts_as_unit_zero(model, x):
    with pytest.raises(CircuitVAEError, match=r"got 0\.7"):
        cv.patch(model, x, x.flip(0), site="encoder.0", units=[0.7])


NONFINITE = [
    (torch.full((8,), float("nan")), r"patch value for site 'encoder\.0' contains NaN "
                                     r"\(8 of 8 values\); patch values must be finite"),
    (torch.tensor([0.0] * 7 + [float("inf")]), r"contains Inf \(1 of 8 values\)"),
    (cv.Patch(torch.full((8,), float("nan")), [0]), r"site 'encoder\.0' contains NaN"),
    (cv.Patch(torch.tensor([float("-inf")] * 8), None), r"contains Inf \(8 of 8"),
    (np.full(8, np.nan), r"patch value for site 'encoder\.0' contains NaN"),
]


@pytest.mark.parametrize(("spec", "match"), NONFINITE, ids=[m[-24:] for _, m in NONFINITE])
def test_patching_rejects_nonfinite(model, x, spec, match):
    with pytest.raises(CircuitVAEError, match=match):
        with cv.patching(model, {"encoder.0": spec}):
            model.encode(x)


@pytest.mark.parametrize(("spec", "match"), NONFINITE, ids=[m[-24:] for _, m in NONFINITE])
def test_run_rejects_nonfinite(model, x, spec, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.run(model, x, patches={"encoder.0": spec})


def test_run_rejects_nonfinite_decode_patch(model):
    with pytest.raises(CircuitVAEError, match=r"site 'decoder\.0' contains NaN"):
        cv.run(model, torch.zeros(2, 3), method="decode",
               patches={"decoder.0": torch.full((8,), float("nan"))})


def test_run_rejects_a_non_tensor_patch_value(model, x):
    with pytest.raises(CircuitVAEError, match=r"patch value for site 'encoder\.0' must be a "
                                              r"tensor, a Patch or a function, got object"):
        cv.run(model, x, patches={"encoder.0": object()})


def test_finite_and_function_patches_still_run(model, x):
    out = cv.run(model, x, patches={"encoder.0": torch.zeros(8),
                                    "encoder.1": lambda t: t * 2}).output
    assert torch.isfinite(out).all()


BAD_SITES = [
    ("encoder.9", r"encoder\.9"),
    ("nope", r"nope"),
]


@pytest.mark.parametrize(("site", "match"), BAD_SITES, ids=[s for s, _ in BAD_SITES])
def test_unknown_sites(model, x, site, match):
    with pytest.raises(SiteError, match=match):
        cv.patch(model, x, x.flip(0), site=site)
    with pytest.raises(SiteError, match=match):
        cv.run(model, x, capture=[site])
    with pytest.raises(SiteError, match=match):
        cv.modularity(model, x, level="latent", sites=[site], k=3)


def test_units_out_of_range(model, x):
    with pytest.raises(CircuitVAEError, match=r"units \[9\] out of range for 8 units"):
        cv.patch(model, x, x.flip(0), site="encoder.0", units=[9])


def test_patch_pairs_of_different_sizes(model, x):
    with pytest.raises(CircuitVAEError, match=r"base \(16, 6\) and source \(15, 6\) must have "
                                              r"the same shape"):
        cv.patch(model, x, x[1:], site="encoder.0")


def test_patch_rejects_bad_outcome(model, x):
    with pytest.raises(CircuitVAEError, match=r"outcome must be 'auto', 'output' or 'mean', "
                                              r"got 'logits'"):
        cv.patch(model, x, x.flip(0), site="encoder.0", outcome="logits")


def test_patch_rejects_bad_max_batch_rows(model, x):
    with pytest.raises(CircuitVAEError, match=r"max_batch_rows must be an integer >= 1 or None, "
                                              r"got 0"):
        cv.patch(model, x, x.flip(0), site="encoder.0", max_batch_rows=0)


def test_empty_path(model, x):
    with pytest.raises(CircuitVAEError, match=r"path is empty"):
        cv.path_patch(model, x, x.flip(0), {})
