"""Downstream tasks of methods.md section 11: imputation and corruption detection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import circuitvae as cv
from circuitvae.metrics.corruption import corrupt_rows, corruption_detection
from circuitvae.metrics.imputation import entry_mask, fill_values, imputation
from circuitvae.protocol import CircuitVAEError, Feature

FEATURES = [Feature("a", "numeric", (0,)), Feature("b", "numeric", (1,)),
            Feature("colour", "categorical", (2, 3, 4)), Feature("c", "numeric", (5,))]
GROUPS = {"ab": ["a", "b"], "colour": ["colour"], "c": ["c"]}


def _rows(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    num = torch.randn(n, 3, generator=g) * 3.0
    cat = torch.nn.functional.one_hot(torch.randint(0, 3, (n,), generator=g), 3).float()
    return torch.cat([num[:, :2], cat, num[:, 2:]], dim=1)


NUMERIC = [0, 1, 5]


class Oracle(nn.Module):
    """Knows the true rows: encodes a row as the index of the true row that shares the most of
    its numeric values (continuous, so only the row itself shares any), decodes the index back
    to that true row. It reconstructs the data perfectly: imputation with it is exact for
    every row that keeps one numeric entry unmasked."""

    speaks_circuitvae = True

    def __init__(self, truth: torch.Tensor):
        super().__init__()
        self.truth = truth
        self.latent_dim, self.input_shape = 1, (truth.shape[1],)
        self.eval()

    def encode(self, x):
        agree = (x[:, None, NUMERIC] == self.truth[None][..., NUMERIC]).sum(-1)
        idx = agree.argmax(1).float()[:, None]
        return cv.Posterior(idx, torch.zeros_like(idx))

    def decode(self, z):
        return self.truth[z[:, 0].round().long()]


class Constant(nn.Module):
    """Reconstructs every row as the same row (the fill): imputation equals the baseline."""

    speaks_circuitvae = True

    def __init__(self, row: torch.Tensor):
        super().__init__()
        self.row = row
        self.latent_dim, self.input_shape = 1, (row.shape[0],)
        self.eval()

    def encode(self, x):
        return cv.Posterior(x[:, :1] * 0, torch.zeros_like(x[:, :1]))

    def decode(self, z):
        return self.row.expand(z.shape[0], -1)


@pytest.fixture
def data():
    return cv.Dataset(_rows(300, 0), _rows(80, 1), name="toy", features=FEATURES,
                      groups=GROUPS)


def test_imputation_is_exact_with_a_model_that_reconstructs_perfectly(data):
    # the precondition of the oracle: every row keeps a numeric entry (features 0, 1, 3)
    assert not entry_mask(80, 4, 0.2, seed=5)[:, [0, 1, 3]].all(1).any()
    res = imputation(Oracle(data.test.x), data, seed=5)
    assert res.rmse == 0.0 and res.accuracy == 1.0
    assert res.rmse_baseline > 1.0 and res.accuracy_baseline < 0.8
    assert res.n_masked_numeric + res.n_masked_categorical == round(0.2 * 80 * 4)


def test_a_constant_model_imputes_the_baseline(data):
    fill = fill_values(data.train.x, FEATURES)
    res = imputation(Constant(fill), data, seed=0)
    assert res.rmse == pytest.approx(res.rmse_baseline)
    assert res.accuracy == pytest.approx(res.accuracy_baseline)


def test_fill_values_are_train_means_and_modes():
    x = torch.tensor([[1.0, 0, 1, 0, 0, 5], [3.0, 2, 0, 1, 0, 5], [5.0, 4, 0, 1, 0, 5]])
    assert fill_values(x, FEATURES).tolist() == [3.0, 2.0, 0.0, 1.0, 0.0, 5.0]


def test_the_mask_is_seeded_and_exact():
    a, b = entry_mask(50, 4, 0.2, seed=1), entry_mask(50, 4, 0.2, seed=1)
    assert np.array_equal(a, b) and a.sum() == 40
    assert not np.array_equal(a, entry_mask(50, 4, 0.2, seed=2))
    with pytest.raises(CircuitVAEError, match="mask_fraction must be in"):
        entry_mask(50, 4, 1.5, seed=0)
    with pytest.raises(CircuitVAEError, match="masks no entry"):
        entry_mask(1, 1, 0.2, seed=0)


def test_corrupted_rows_are_seeded_and_really_changed(data):
    x = data.test.x
    groups = [[0, 1], [2, 3, 4], [5]]
    a, la = corrupt_rows(x, groups, 0.1, seed=4)
    b, lb = corrupt_rows(x, groups, 0.1, seed=4)
    assert torch.equal(a, b) and np.array_equal(la, lb) and la.sum() == 8
    changed = (a != x).any(1).numpy()
    assert np.array_equal(changed, la.astype(bool))
    c, lc = corrupt_rows(x, groups, 0.1, seed=5)
    assert not np.array_equal(la, lc)
    # only one group of a corrupted row changes
    for row in np.flatnonzero(la):
        touched = [g for g in groups if not torch.equal(a[row, g], x[row, g])]
        assert len(touched) == 1


def test_a_model_of_the_clean_rows_detects_every_corruption(data):
    res = corruption_detection(Oracle(data.test.x), data, seed=0)
    assert res.roc_auc == 1.0 and res.pr_auc == 1.0 and res.n_corrupted == 8


def test_analyze_reports_the_downstream_columns(data):
    row = cv.analyze(Oracle(data.test.x), data, n=80, seed=5,
                     metrics=["imputation", "corruption"], strict=True).iloc[0]
    assert row.impute_rmse == 0.0 and row.impute_accuracy == 1.0
    assert row.anomaly_roc_auc == 1.0 and np.isfinite(row.impute_rmse_baseline)


def test_bad_inputs_are_named(data):
    with pytest.raises(CircuitVAEError, match="train and test splits"):
        imputation(Oracle(data.test.x), data.test.x)
    with pytest.raises(CircuitVAEError, match="fraction must be in"):
        corrupt_rows(data.test.x, [[0]], 0.0, seed=0)
    with pytest.raises(CircuitVAEError, match="at least 2 rows"):
        corrupt_rows(data.test.x[:1], [[0]], 0.5, seed=0)
