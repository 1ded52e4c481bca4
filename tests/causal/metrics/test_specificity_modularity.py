"""Specificity and modularity on planted and fully mixed circuits, and their formulas."""

import numpy as np
import pytest

import circuitvae as cv
from circuitvae.metrics import profile_modularity, specificity_from_effects


def test_specificity_from_effects_hand_computed():
    effects = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]])
    value, per, w = specificity_from_effects(effects)
    p = np.array([0.75, 0.25])
    h = -(p * np.log(p)).sum()
    np.testing.assert_allclose(per[[0, 1, 3]], [1.0, 0.0, 1 - h / np.log(3)], atol=1e-12)
    assert np.isnan(per[2]) and w[2] == 0
    assert value == pytest.approx((1 * 1 + 3 * 0 + 4 * (1 - h / np.log(3))) / 8)


def test_planted_circuit_is_specific_and_mixed_is_not(circuit_models, tabular):
    planted, mixed = circuit_models
    sp = cv.specificity(planted, tabular)
    np.testing.assert_allclose(sp.per_latent, 1.0, atol=1e-9)
    assert sp.effects.shape == (4, 4) and sp.groups == ("g0", "g1", "g2", "g3")
    # latent j only moves its own group
    assert np.all(np.argmax(sp.effects, axis=1) == np.arange(4))
    sm = cv.specificity(mixed, tabular)
    assert sm.value == pytest.approx(0.0, abs=1e-9)


def test_specificity_images_use_output_elements(conv_vae, fake_images):
    res = cv.specificity(conv_vae, fake_images, n=20)
    assert len(res.groups) == 16 and 0 < res.value < 1


def test_profile_modularity_hand_computed():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.1], [3.0, 1.0, 2.0]])
    c = np.corrcoef(a)
    expect = 1 - np.mean([abs(c[0, 1]), abs(c[0, 2]), abs(c[1, 2])])
    assert profile_modularity(a) == pytest.approx(expect)
    assert np.isnan(profile_modularity(np.ones((2, 3))))  # constant profiles: undefined
    with pytest.raises(cv.CircuitVAEError, match="at least 2"):
        profile_modularity(np.ones((1, 3)))


def test_planted_circuit_is_modular_and_mixed_is_not(circuit_models, tabular):
    planted, mixed = circuit_models
    # disjoint-support profiles of 4 groups: |r| <= 1/3, so modularity >= 2/3
    for kw in ({}, {"level": "latent"}, {"layers": "encoder"}, {"profile": "signed"}):
        res = cv.modularity(planted, tabular, **kw)
        assert res.value > 0.6, kw
        low = cv.modularity(mixed, tabular, **kw)
        assert low.value == pytest.approx(0.0, abs=1e-6), kw
    res = cv.modularity(planted, tabular)
    assert set(res.per_layer) == {"enc", "dec"}
    assert res.profiles["enc"].shape == (4, 8)
    # random grouping of the planted model breaks the alignment
    assert cv.modularity(planted, tabular, "random", seed=1).value < res.value


def test_ridgeway_variant(circuit_models, tabular):
    planted, mixed = circuit_models
    assert cv.modularity(planted, tabular, method="ridgeway").value == pytest.approx(1.0)
    assert cv.modularity(mixed, tabular, method="ridgeway").value == pytest.approx(0.0, abs=1e-9)


def test_image_factor_modularity(conv_vae, fake_images):
    res = cv.modularity(conv_vae, fake_images, n=20)
    assert res.groups == ("row", "col") and np.isfinite(res.value)


def test_modularity_bad_arguments(circuit_models, tabular):
    planted, _ = circuit_models
    with pytest.raises(cv.CircuitVAEError, match="reach only the decoder"):
        cv.modularity(planted, tabular, level="latent", layers="encoder")
    with pytest.raises(cv.CircuitVAEError, match="overlap"):
        cv.modularity(planted, tabular, {"a": list(range(8)), "b": list(range(7, 12))})
    with pytest.raises(cv.CircuitVAEError, match="profile"):
        cv.modularity(planted, tabular, profile="square")
