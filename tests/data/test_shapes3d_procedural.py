"""Procedural 3D Shapes: the official factor grid, every factor visible, each only in its part."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitvae.zoo.data import load_dataset
from circuitvae.zoo.data.files import MissingDataError
from circuitvae.zoo.data.shapes3d import FACTOR_SIZES, HORIZON, Shapes3D, object_mask, render

BASE = np.array([1, 4, 7, 3, 0, 7])


def _changed(k: int, value: int, base: np.ndarray = BASE):
    other = base.copy()
    other[k] = value
    a, b = render(np.stack([base, other]))
    diff = np.abs(a - b).max(axis=0) > 1e-6
    objects = object_mask(np.stack([base, other])).any(axis=0)
    return diff, objects


def test_each_factor_changes_the_image_and_only_its_own_part():
    rows = np.arange(64)[:, None] * np.ones((1, 64), dtype=bool)
    wall, floor = rows < HORIZON, rows >= HORIZON
    diff, obj = _changed(0, 6)  # floor hue
    assert diff.any() and not (diff & ~(floor & ~obj)).any()
    diff, obj = _changed(1, 0)  # wall hue
    assert diff.any() and not (diff & ~(wall & ~obj)).any()
    for k, value in ((2, 1), (3, 7), (4, 2)):  # object hue, scale, shape
        diff, obj = _changed(k, value)
        assert diff.any() and not (diff & ~obj).any(), k
    diff, obj = _changed(5, 0)  # orientation: the object's shading and the wall corner
    assert (diff & obj).any() and (diff & wall & ~obj).any()
    assert not (diff & floor & ~obj).any()


@pytest.mark.parametrize("shape", range(4))
def test_orientation_is_visible_on_every_shape(shape):
    base = BASE.copy()
    base[4] = shape
    diff, obj = _changed(5, 14, base)
    assert (diff & obj).any()


def test_images_are_deterministic_rgb_in_range():
    f = np.array([[0, 9, 3, 7, 3, 14], [9, 0, 5, 0, 1, 0]])
    a, b = render(f), render(f)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 3, 64, 64) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_the_dataset_falls_back_to_the_procedural_scene(tmp_path, monkeypatch):
    monkeypatch.delenv("CIRCUITVAE_DATA", raising=False)
    d = load_dataset("shapes3d", root=tmp_path, n_train=20, n_test=10, seed=3)
    assert isinstance(d, Shapes3D) and d.provenance["source"] == "procedural"
    assert d.factor_sizes == FACTOR_SIZES and d.num_rows == 480000
    assert d.train.x.shape == (20, 3, 64, 64) and d.train.x.dtype == torch.float32
    np.testing.assert_array_equal(d.train.x.numpy(), render(d.train.factors))
    obs = d.sample_observations_from_factors(d.train.factors[:2], np.random.default_rng(0))
    np.testing.assert_allclose(np.asarray(obs), render(d.train.factors[:2]))
    with pytest.raises(MissingDataError, match="3dshapes.h5"):
        load_dataset("shapes3d", root=tmp_path, source="file")
