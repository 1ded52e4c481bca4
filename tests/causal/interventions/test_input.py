"""Input manipulation: group swaps, factor resampling, groups, responses and profiles."""

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.interventions import (
    activation_profiles,
    manipulations,
    random_grouping,
    resample_factor,
    resolve_groups,
    responses,
    swap_group,
)
from circuitvae.interventions.input import partner_rows
from circuitvae.protocol import column_groups


def test_swap_group_replaces_only_the_group_with_another_rows_values():
    x = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    out = swap_group(x, [0, 2], seed=3)
    partner = partner_rows(10, 3)
    assert np.all(partner != np.arange(10))
    np.testing.assert_array_equal(out[:, 1], x[:, 1])
    np.testing.assert_array_equal(out[:, [0, 2]], x[partner][:, [0, 2]])
    np.testing.assert_array_equal(out, swap_group(x, [0, 2], seed=3))  # seeded


def test_resample_factor_changes_exactly_one_factor(fake_images):
    f, fp, x, xp = resample_factor(fake_images, 1, 50, seed=0)
    assert np.all(f[:, 1] != fp[:, 1])
    np.testing.assert_array_equal(f[:, 0], fp[:, 0])
    assert x.shape == xp.shape == (50, 1, 4, 4)


def test_random_grouping_keeps_sizes_and_partitions():
    sem = column_groups({"a": [0, 1, 2], "b": [3], "c": [4, 5]}, 6)
    rnd = random_grouping(sem, 6, seed=1)
    assert [len(c) for c in rnd.columns] == [3, 1, 2]
    assert sorted(c for cols in rnd.columns for c in cols) == list(range(6))


def test_resolve_groups_sources_and_errors(tabular):
    sem = resolve_groups(tabular, None, 12)
    assert sem.names == ("g0", "g1", "g2", "g3") and sem.columns[1] == (3, 4, 5)
    assert len(resolve_groups(torch.zeros(2, 12), None, 12)) == 12  # elements
    assert len(resolve_groups(tabular, "features", 12)) == 12
    with pytest.raises(cv.CircuitVAEError, match="overlap"):
        resolve_groups(tabular, {"a": [0, 1], "b": [1, 2]}, 3)
    with pytest.raises(cv.CircuitVAEError, match="do not cover"):
        resolve_groups(tabular, {"a": [0, 1]}, 3)
    with pytest.raises(cv.CircuitVAEError, match="unknown grouping"):
        resolve_groups(tabular, "bogus", 12)
    with pytest.raises(cv.CircuitVAEError, match="feature groups"):
        resolve_groups(torch.zeros(2, 12), "semantic", 12)


def test_manipulations_tabular_and_images(tabular, fake_images, conv_vae, circuit_models):
    model = circuit_models[0]
    x, var = manipulations(model, tabular, n=20, seed=0)
    assert list(var) == ["g0", "g1", "g2", "g3"]
    changed = (var["g2"] != x).any(dim=0)
    assert changed[6:9].all() and not changed[:6].any() and not changed[9:].any()
    xi, vi = manipulations(conv_vae, fake_images, n=10, seed=0)
    assert list(vi) == ["row", "col"] and xi.shape == (10, 1, 4, 4)


def test_responses_are_differences_of_direct_runs(mlp, xpair):
    xb, xs = xpair
    res = responses(mlp, xb, xs, sites=["encoder.1", "decoder.3"])
    out = cv.run(mlp, torch.cat([xb, xs]), capture=["encoder.1"])
    n = len(xb)
    np.testing.assert_allclose(res.output, (out.output[n:] - out.output[:n]).numpy(), atol=1e-6)
    enc = out.cache["encoder.1"]
    np.testing.assert_allclose(res.activations["encoder.1"], (enc[n:] - enc[:n]).numpy(),
                               atol=1e-6)
    assert res.mu.shape == (n, 3)


def test_activation_profiles_equal_manual_mean_abs_change(mlp, xpair):
    xb, xs = xpair
    variants = {"a": xs, "b": xb.flip(0)}
    prof = activation_profiles(mlp, xb, variants, sites=["decoder.1"], max_batch_rows=3)
    base = cv.run(mlp, xb, capture=["decoder.1"]).cache["decoder.1"]
    for i, g in enumerate("ab"):
        act = cv.run(mlp, variants[g], capture=["decoder.1"]).cache["decoder.1"]
        np.testing.assert_allclose(prof.per_site["decoder.1"][i],
                                   (act - base).abs().mean(0).numpy(), atol=1e-6)
