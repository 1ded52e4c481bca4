"""cv.Dataset: your own data, accepted everywhere a zoo dataset is, with every declaration
checked; nothing guessed from the shape of the rows."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.protocol import DatasetLike

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bring_your_own_data.py"


def test_the_example_runs_and_every_group_metric_applies(capsys):
    out = runpy.run_path(str(EXAMPLE))["main"]()
    assert all(math.isfinite(v) for v in out.values())
    assert 0 <= out["specificity"] <= 1 and 0.5 < out["auc"] <= 1
    assert "with features, groups, labels" in capsys.readouterr().out


def _table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32)


def test_plain_arrays_make_a_dataset():
    x = _table()
    d = cv.Dataset(x[:30], x[30:], name="mine", labels=(np.zeros(30), np.ones(10)),
                   features=["a", "b", "c", "d"], groups={"ab": ["a", "b"], "cd": ["c", "d"]})
    assert isinstance(d, DatasetLike) and d.name == "mine"
    assert d.train.x.dtype == torch.float32 and len(d.test) == 10
    assert [f.columns for f in d.features] == [(0,), (1,), (2,), (3,)]
    assert d.test.y.tolist() == [1.0] * 10
    assert "with features, groups, labels" in repr(d)


@pytest.mark.parametrize("kwargs, message", [
    ({"test": None}, "needs a test split"),
    ({"labels": (np.zeros(3), np.zeros(10))}, r"labels of train have shape \(3,\)"),
    ({"features": ["a", "b"]}, "2 feature names for 4 columns"),
    ({"features": [cv.Feature("a", "numeric", (0, 1)), cv.Feature("b", "numeric", (1,))]},
     "overlap"),
    ({"features": ["a", "b", "c", "d"], "groups": {"g": ["a", "z"]}},
     "names unknown feature 'z'"),
    ({"features": ["a", "b", "c", "d"], "groups": {"g": ["a", "b"]}},
     r"features in no group: \['c', 'd'\]"),
    ({"groups": {"g": ["a"]}}, "groups name features: pass features= too"),
    ({"factors": np.full(10, 0.5)}, "factors of test must be integer classes"),
    ({"factors": {"train": None, "val": 1}}, r"factors has keys \['val'\]"),
    ({"features": [{"name": "a"}]}, "needs 'name' and 'columns'"),
])
def test_bad_declarations_are_named(kwargs, message):
    x = _table()
    args = {"train": x[:30], "test": x[30:], **kwargs}
    with pytest.raises(cv.CircuitVAEError, match=message):
        cv.Dataset(**args)


def test_images_given_flat_are_not_feature_groups(conv_vae):
    """A flat image array without features gets no pixel-wise feature groups: the group
    metrics say that no groups were declared; the causal metrics run over output elements."""
    rng = np.random.default_rng(0)
    flat = cv.Dataset(rng.random((20, 16)).astype(np.float32),
                      rng.random((12, 16)).astype(np.float32))
    model = cv.wrap(encode=lambda x: conv_vae.encode(x.reshape(-1, 1, 4, 4)),
                    decode=lambda z: conv_vae.decode(z).reshape(z.shape[0], -1),
                    module=conv_vae)
    row = cv.analyze(model, flat, n=12, metrics="interventional").iloc[0]
    assert math.isfinite(row["ces_calibrated"]) and math.isfinite(row["specificity"])
    assert math.isnan(row["modularity"])
    assert "modularity: CircuitVAEError: input manipulation needs groups" in row["skipped"]
    with pytest.raises(cv.CircuitVAEError, match="opt in to one group per column with "
                                                 "groups='elements'"):
        cv.modularity(model, flat, n=12)
    assert math.isfinite(cv.modularity(model, flat, groups="elements", n=12).value)
    with pytest.raises(cv.CircuitVAEError, match="features and groups describe tabular"):
        cv.Dataset(np.zeros((4, 1, 4, 4)), np.zeros((2, 1, 4, 4)), features=["a"])


def test_factors_switch_on_the_factor_metrics(conv_vae, fake_images):
    d = cv.Dataset(fake_images.train.x, fake_images.test.x,
                   factors=(fake_images.train.factors, fake_images.test.factors),
                   factor_names=["row", "col"])
    row = cv.analyze(conv_vae, d, n=20, n_score_train=24, n_score_eval=12, dci_n_estimators=3,
                     metrics=["dci/mig/sap"], strict=True).iloc[0]
    assert math.isfinite(row["mig"]) and math.isfinite(row["dci_disentanglement"])
    assert d.factor_names == ["row", "col"]
