"""Brain-MRI anomaly data: the MNI152 stand-in (deterministic, masks) and the BraTS reader."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

from circuitvae.protocol import CircuitVAEError
from circuitvae.zoo.data import MissingDataError, load_dataset
from circuitvae.zoo.data.mri import add_lesion

pytest.importorskip("nilearn")
nib = pytest.importorskip("nibabel")


@pytest.fixture(scope="module")
def standin():
    return load_dataset("mri_standin", seed=3, n_train=40, n_test=30)


def test_standin_is_deterministic_by_seed(standin):
    again = load_dataset("mri_standin", seed=3, n_train=40, n_test=30)
    assert torch.equal(standin.test.x, again.test.x) and np.array_equal(standin.test.y,
                                                                        again.test.y)
    other = load_dataset("mri_standin", seed=4, n_train=40, n_test=30)
    assert not torch.equal(standin.test.x, other.test.x)


def test_standin_splits_labels_and_masks(standin):
    assert standin.train.x.shape == (40, 1, 64, 64) and standin.test.x.shape == (30, 1, 64, 64)
    assert float(standin.train.x.min()) >= 0 and float(standin.train.x.max()) <= 1
    y, masks = standin.test.y, standin.test_masks
    assert y.sum() == 15 and (standin.train.y == 0).all()
    area = masks.reshape(30, -1).sum(1)
    assert (area[y == 1] > 0).all() and (area[y == 0] == 0).all()
    assert standin.provenance["comparable_with_brats"] is False


def test_a_lesion_changes_only_its_masked_pixels():
    rng = np.random.default_rng(0)
    image = np.full((64, 64), 0.4)
    brain = np.zeros((64, 64), bool)
    brain[8:56, 8:56] = True
    out, mask = add_lesion(image, brain, rng)
    assert mask.any() and not (mask & ~brain).any()
    assert np.array_equal(out[~mask], image[~mask]) and (out[mask] > image[mask]).all()


def test_without_nilearn_the_message_names_the_extra(monkeypatch):
    real = builtins.__import__

    def no_nilearn(name, *args, **kw):
        if name.startswith("nilearn"):
            raise ImportError("no nilearn")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_nilearn)
    with pytest.raises(CircuitVAEError, match=r"circuitvae\[mri\]"):
        load_dataset("mri_standin", n_train=2, n_test=2)


def _subject(folder, name, tumour: bool, seed: int):
    rng = np.random.default_rng(seed)
    vol = np.zeros((24, 24, 6), np.float32)
    vol[4:20, 4:20, :] = rng.uniform(0.3, 0.7, (16, 16, 6))
    seg = np.zeros_like(vol, dtype=np.int16)
    if tumour:
        seg[8:12, 8:12, 2:4] = 1
        vol[8:12, 8:12, 2:4] = 1.0
    d = folder / name
    d.mkdir(parents=True)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), str(d / f"{name}_flair.nii.gz"))
    nib.save(nib.Nifti1Image(seg, np.eye(4)), str(d / f"{name}_seg.nii.gz"))


def test_brats_reader_splits_subjects_and_labels_slices(tmp_path):
    for i in range(5):
        _subject(tmp_path / "brats2020", f"BraTS20_Training_{i:03d}", tumour=True, seed=i)
    data = load_dataset("brats2020", tmp_path, seed=0, size=16)
    # 4 training subjects x 4 slices without tumour; 1 test subject x 6 slices, 2 with tumour
    assert data.train.x.shape == (16, 1, 16, 16) and data.test.x.shape == (6, 1, 16, 16)
    assert data.test.y.tolist() == [0, 0, 1, 1, 0, 0]
    masks = data.test_masks
    assert masks[data.test.y == 1].sum() > 0 and masks[data.test.y == 0].sum() == 0


def test_missing_brats_names_the_files(tmp_path):
    with pytest.raises(MissingDataError, match=r"brats2020/<subject>/<subject>_flair\.nii\.gz"):
        load_dataset("brats2020", tmp_path)
