"""Bad arguments of the public functions: each raises CircuitVAEError naming the argument, the
value and what is allowed, before any pass runs."""

from __future__ import annotations

import numpy as np
import pytest

import circuitvae as cv
from circuitvae import CircuitVAEError

NAN = float("nan")

#: (keyword, bad value, pattern of the message) shared by every latent-sweep metric
SWEEP_CASES = [
    ("k", 2.5, r"k \(grid size\) must be an integer >= 2, got 2\.5"),
    ("k", 1, r"k \(grid size\) must be an integer >= 2, got 1"),
    ("k", 0, r"k \(grid size\) must be an integer >= 2, got 0"),
    ("k", -4, r"k \(grid size\) must be an integer >= 2, got -4"),
    ("k", True, r"k \(grid size\) must be an integer >= 2, got True"),
    ("k", "11", r"k \(grid size\) must be an integer >= 2, got '11'"),
    ("n", 0, r"n must be an integer >= 1 or None, got 0"),
    ("n", -3, r"n must be an integer >= 1 or None, got -3"),
    ("n", 2.5, r"n must be an integer >= 1 or None, got 2\.5"),
    ("seed", -1, r"seed must be an integer >= 0, got -1"),
    ("seed", 1.5, r"seed must be an integer >= 0, got 1\.5"),
    ("seed", None, r"seed must be an integer >= 0, got None"),
    ("r", -3, r"r must be a finite number > 0, got -3"),
    ("r", 0, r"r must be a finite number > 0, got 0"),
    ("r", 0.0, r"r must be a finite number > 0, got 0\.0"),
    ("r", NAN, r"r must be a finite number > 0, got nan"),
    ("r", float("inf"), r"r must be a finite number > 0, got inf"),
    ("r", "3", r"r must be a finite number > 0, got '3'"),
    ("scale", "bogus", r"scale must be one of 'means', 'total', 'posterior', 'prior', got 'bogus'"),
    ("scale", None, r"scale must be one of .*got None"),
    ("max_batch_rows", 0, r"max_batch_rows must be an integer >= 1 or None, got 0"),
    ("max_batch_rows", -5, r"max_batch_rows must be an integer >= 1 or None, got -5"),
    ("max_batch_rows", 2.5, r"max_batch_rows must be an integer >= 1 or None, got 2\.5"),
    ("discrete_ok", "yes", r"discrete_ok must be True or False, got 'yes'"),
]


def _ids(cases):
    return [f"{key}={value!r}" for key, value, _ in cases]


@pytest.mark.parametrize(("key", "value", "match"), SWEEP_CASES, ids=_ids(SWEEP_CASES))
def test_ces_rejects(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.ces(model, x, **{key: value})


CES_ONLY = [
    ("reduction", "max", r"reduction must be one of 'rms', 'l2', got 'max'"),
    ("reduction", None, r"reduction must be one of 'rms', 'l2', got None"),
    ("calibrated", "yes", r"calibrated must be True or False, got 'yes'"),
    ("calibrated", 1, r"calibrated must be True or False, got 1"),
]


@pytest.mark.parametrize(("key", "value", "match"), CES_ONLY, ids=_ids(CES_ONLY))
def test_ces_rejects_own_options(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.ces(model, x, **{key: value})


SPEC_CASES = [c for c in SWEEP_CASES if c[0] in ("k", "n", "seed", "r", "scale", "max_batch_rows")]


@pytest.mark.parametrize(("key", "value", "match"), SPEC_CASES, ids=_ids(SPEC_CASES))
def test_specificity_rejects(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.specificity(model, x, **{key: value})


def test_specificity_rejects_group_reduce(model, x):
    with pytest.raises(CircuitVAEError, match=r"group_reduce must be one of 'mean', 'sum', "
                                              r"got 'max'"):
        cv.specificity(model, x, group_reduce="max")


MOD_SWEEP = [c for c in SWEEP_CASES if c[0] in ("k", "n", "seed", "r", "scale", "max_batch_rows")
             and not isinstance(c[1], str)]


@pytest.mark.parametrize(("key", "value", "match"), MOD_SWEEP, ids=_ids(MOD_SWEEP))
def test_modularity_latent_rejects(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.modularity(model, x, level="latent", **{key: value})


MOD_OPTIONS = [
    ("method", "spearman", r"method must be one of 'pearson', 'ridgeway', got 'spearman'"),
    ("profile", "squared", r"profile must be one of 'abs', 'signed', got 'squared'"),
    ("layers", "middle", r"layers must be one of 'all', 'encoder', 'decoder', got 'middle'"),
    ("level", "unit", r"level must be one of 'group', 'latent', got 'unit'"),
    ("level", None, r"level must be one of 'group', 'latent', got None"),
    ("sites", "decoder.0", r"sites must be a list of site names or None, got 'decoder\.0'"),
    ("sites", [0, 1], r"sites must be a list of site names or None, got \[0, 1\]"),
]


@pytest.mark.parametrize(("key", "value", "match"), MOD_OPTIONS, ids=_ids(MOD_OPTIONS))
def test_modularity_rejects_options(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.modularity(model, x, **{key: value})


@pytest.mark.parametrize(("key", "value"), [("profile", "squared"), ("k", 1), ("r", -3)])
def test_modularity_ridgeway_checks_every_option(model, x, key, value):
    with pytest.raises(CircuitVAEError, match=f"{key}.* must be .*got {value!r}"):
        cv.modularity(model, x, method="ridgeway", **{key: value})


ANALYZE_CASES = [
    ("n", 0, r"n must be an integer >= 1 or None, got 0"),
    ("n", -3, r"n must be an integer >= 1 or None, got -3"),
    ("k", 2.5, r"k \(grid size\) must be an integer >= 2, got 2\.5"),
    ("k", 1, r"k \(grid size\) must be an integer >= 2, got 1"),
    ("r", -3, r"r must be a finite number > 0, got -3"),
    ("r", NAN, r"r must be a finite number > 0, got nan"),
    ("seed", -1, r"seed must be an integer >= 0, got -1"),
    ("seed", 1.5, r"seed must be an integer >= 0, got 1\.5"),
    ("scale", "bogus", r"scale must be one of .*got 'bogus'"),
    ("metrics", [], r"metrics is empty"),
    ("metrics", "cess", r"unknown metric 'cess'"),
    ("metrics", ["ces", "bogus"], r"unknown metric 'bogus'"),
    ("metrics", 3, r"metrics must be a name or a list of names, got int"),
    ("n_score_train", 0, r"n_score_train must be an integer >= 1, got 0"),
    ("n_score_eval", -1, r"n_score_eval must be an integer >= 1, got -1"),
    ("n_auc_train", 0, r"n_auc_train must be an integer >= 1 or None, got 0"),
    ("vq_entries", 0, r"vq_entries must be an integer >= 1 or None, got 0"),
    ("fgd_n_estimators", 0, r"fgd_n_estimators must be an integer >= 1, got 0"),
    ("dci_n_estimators", 2.5, r"dci_n_estimators must be an integer >= 1, got 2\.5"),
    ("n_jobs", 0, r"n_jobs must be None, an integer >= 1 or -1 \(all cores\), got 0"),
    ("n_jobs", -7, r"n_jobs must be None, an integer >= 1 or -1 \(all cores\), got -7"),
    ("n_jobs", 1.5, r"n_jobs must be an integer, got 1\.5"),
    ("max_batch_rows", 0, r"max_batch_rows must be an integer >= 1 or None, got 0"),
    ("strict", "yes", r"strict must be True or False, got 'yes'"),
    ("verbose", 2, r"verbose must be True or False, got 2"),
]


@pytest.mark.parametrize(("key", "value", "match"), ANALYZE_CASES, ids=_ids(ANALYZE_CASES))
def test_analyze_rejects(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.analyze(model, x, **{key: value})


def test_numpy_integers_are_accepted(model, x):
    res = cv.ces(model, x, k=np.int64(3), n=np.int32(8), seed=np.int64(2))
    assert res.k == 3 and res.n == 8


SIGMA_CASES = [
    ("scale", "bogus", r"scale must be 'means', 'total', 'posterior' or 'prior', got 'bogus'"),
]


@pytest.mark.parametrize(("key", "value", "match"), SIGMA_CASES, ids=_ids(SIGMA_CASES))
def test_sigma_eff_rejects(model, x, key, value, match):
    with pytest.raises(CircuitVAEError, match=match):
        cv.sigma_eff(model, x, **{key: value})


OTHER_CASES = [
    ("reconstruction", {"n": 0}, r"n must be an integer >= 1 or None, got 0"),
    ("reconstruction", {"seed": -2}, r"seed must be an integer >= 0, got -2"),
    ("latent_activity", {"n": 1.5}, r"n must be an integer >= 1 or None, got 1\.5"),
    ("latent_activity", {"threshold": -1.0}, r"threshold must be a finite number >= 0, got -1\.0"),
    ("code_swap", {"n": 0}, r"n must be an integer >= 1 or None, got 0"),
    ("code_swap", {"n_entries": 0}, r"n_entries must be an integer >= 1 or None, got 0"),
    ("code_swap", {"reduction": "max"}, r"reduction must be one of 'rms', 'l2', got 'max'"),
    ("code_swap", {"group_reduce": "max"}, r"group_reduce must be one of 'mean', 'sum'"),
    ("downstream_auc", {"n_train": 0}, r"n_train must be an integer >= 1 or None, got 0"),
    ("downstream_auc", {"seed": 0.5}, r"seed must be an integer >= 0, got 0\.5"),
]


@pytest.mark.parametrize(("fn", "kwargs", "match"), OTHER_CASES,
                         ids=[f"{f}-{next(iter(k))}" for f, k, _ in OTHER_CASES])
def test_other_metrics_reject(model, x, fn, kwargs, match):
    with pytest.raises(CircuitVAEError, match=match):
        getattr(cv, fn)(model, x, **kwargs)


MEDIATION_CASES = [
    ("mediate", {"mediator": "encoder.0", "outcome": "auto"},
     r"outcome must be one of 'output', 'mean', got 'auto'"),
    ("mediate", {"mediator": "encoder.0", "units": [0.7]},
     r"units must be integer unit indices, got 0\.7"),
    ("mediation_by_layer", {"tol": -1.0}, r"tol must be a finite number >= 0, got -1\.0"),
    ("mediation_by_layer", {"tol": float("nan")}, r"tol must be a finite number >= 0, got nan"),
    ("mediation_by_layer", {"units": {"encoder.0": [1.5]}},
     r"units of site 'encoder\.0' must be integer unit indices, got 1\.5"),
    ("mediation_by_layer", {"outcome": "x"}, r"outcome must be one of 'output', 'mean'"),
]


@pytest.mark.parametrize(("fn", "kwargs", "match"), MEDIATION_CASES,
                         ids=[f"{f}-{list(k)[-1]}" for f, k, _ in MEDIATION_CASES])
def test_mediation_rejects(model, x, fn, kwargs, match):
    with pytest.raises(CircuitVAEError, match=match):
        getattr(cv, fn)(model, x, x.flip(0), **kwargs)
