"""Brain-MRI anomaly data: the BraTS2020 reader and an offline stand-in (methods.md s. 9).

Both return an :class:`AnomalyDataset`: a ``train`` split of healthy axial slices and a
``test`` split of healthy and lesioned slices (``test.y`` = 1 for a lesion) with pixel masks
``test_masks``, as ``(N, 1, size, size)`` float32 images in [0, 1].

**The stand-in** (``load_dataset("mri_standin")``) [our choice]: the real MNI152 T1 template
(ICBM 2009a, 2 mm) shipped inside the nilearn wheel (the ``mri`` extra), so it needs no
download. Each image is an axial slice from the central band of the brain (slices whose brain
area is at least half the largest), cropped to the brain's bounding box, resized to
``size`` x ``size`` and augmented:

* a random affine: rotation U(-10, 10) degrees, scale U(0.9, 1.1), shift U(-0.05, 0.05) of
  the field of view;
* an elastic deformation: a Gaussian displacement field on an 8 x 8 grid (sd 0.03 of the field
  of view), upsampled bicubically;
* a bias field: ``exp`` of a random second-order polynomial in the coordinates (sd 0.1);
* Gaussian noise (sd 0.02), clipped to [0, 1].

A lesioned image is an augmented slice plus a synthetic lesion inside the brain mask: an
irregular core (the union of 3-5 Gaussian bumps, radii 2-6 pixels at 64 x 64, around a random
brain pixel) set to a hyperintense value U(0.85, 1.0) with texture, and an oedema ring
(the core dilated by 2-4 pixels, minus the core) brightened by U(0.15, 0.3). The pixel mask is
core and ring. Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed gives
the same images. AUCs on the stand-in are **not** comparable with the seed's BraTS numbers.

**BraTS2020** (``load_dataset("brats2020")``): the FLAIR volumes and tumour labels of the
official training set, read with nibabel (the ``mri`` extra), under
``<root>/brats2020/<subject>/<subject>_flair.nii[.gz]`` and ``..._seg.nii[.gz]``. Axial slices
with a brain area of at least 15% of the slice; healthy = no tumour label in the slice
[paper's definition]. Subjects are split 80/20 by ``seed`` into train (healthy slices only) and
test subjects (their healthy and lesioned slices); each volume is scaled by its 99.5th
percentile.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from circuitvae.protocol import CircuitVAEError, Split

from .files import MissingDataError, search_dirs

SIZE = 64
MRI_HINT = "pip install 'circuitvae[mri]' (nilearn and nibabel)"


@dataclass
class AnomalyDataset:
    """Healthy ``train`` images; ``test`` images with ``test.y`` (1 = anomalous) and
    ``test_masks`` ``(N, 1, H, W)`` (1 = anomalous pixel)."""

    name: str
    train: Split
    test: Split
    test_masks: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)
    #: tabular sets: their numeric features (None for images)
    features: list[Any] | None = None

    def __repr__(self) -> str:
        return (f"AnomalyDataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"anomalous={int(self.test.y.sum()) if self.test.y is not None else 0})")


def _nilearn() -> Any:
    try:
        from nilearn import datasets
    except ImportError as err:
        raise CircuitVAEError(f"the MRI stand-in is built from the MNI152 template inside "
                              f"nilearn, which is not installed: {MRI_HINT}") from err
    return datasets


def template_slices(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(slices, masks)``: the MNI152 template's axial slices of the central brain band,
    cropped to the brain's bounding box and resized to ``size`` x ``size``, in [0, 1]."""
    from scipy.ndimage import binary_fill_holes

    img = _nilearn().load_mni152_template(resolution=2)
    vol = np.asarray(img.get_fdata(), dtype=np.float32)
    vol = np.clip(vol / np.percentile(vol[vol > 0], 99.5), 0, 1)
    brain = binary_fill_holes(vol > 0.1)
    area = brain.sum(axis=(0, 1))
    zs = np.flatnonzero(area >= 0.5 * area.max())
    xs, ys = np.flatnonzero(brain.any(axis=(1, 2))), np.flatnonzero(brain.any(axis=(0, 2)))
    crop = (slice(xs[0], xs[-1] + 1), slice(ys[0], ys[-1] + 1))
    side = max(xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1) + 4

    def square(a: np.ndarray) -> torch.Tensor:
        pad = np.zeros((side, side), dtype=np.float32)
        h, w = a.shape
        pad[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = a
        return torch.from_numpy(np.rot90(pad).copy())

    stack = torch.stack([square(vol[crop][:, :, z]) for z in zs])[:, None]
    mstack = torch.stack([square(brain[crop][:, :, z].astype(np.float32)) for z in zs])[:, None]
    slices = F.interpolate(stack, size=(size, size), mode="bilinear", align_corners=False)
    masks = F.interpolate(mstack, size=(size, size), mode="nearest")
    return slices.clamp(0, 1).numpy(), masks.numpy() > 0.5


def _augment(images: torch.Tensor, masks: torch.Tensor, rng: np.random.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random affine + elastic warp (images and masks alike), bias field and noise."""
    n, _, h, w = images.shape
    angle = np.deg2rad(rng.uniform(-10, 10, n))
    scale = rng.uniform(0.9, 1.1, n)
    shift = rng.uniform(-0.05, 0.05, (n, 2)) * 2
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0] = np.cos(angle) / scale
    theta[:, 0, 1] = -np.sin(angle) / scale
    theta[:, 1, 0] = np.sin(angle) / scale
    theta[:, 1, 1] = np.cos(angle) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(torch.from_numpy(theta), [n, 1, h, w], align_corners=False)
    coarse = torch.from_numpy(rng.normal(0, 0.03 * 2, (n, 2, 8, 8)).astype(np.float32))
    grid = grid + F.interpolate(coarse, size=(h, w), mode="bicubic",
                                align_corners=False).permute(0, 2, 3, 1)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    warped_masks = F.grid_sample(masks.float(), grid, mode="nearest", padding_mode="zeros",
                                 align_corners=False) > 0.5
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    basis = torch.stack([xx, yy, xx * yy, xx ** 2, yy ** 2])  # (5, H, W)
    coef = torch.from_numpy(rng.normal(0, 0.1, (n, 5)).astype(np.float32))
    bias = torch.exp(torch.einsum("nk,khw->nhw", coef, basis))[:, None]
    noise = torch.from_numpy(rng.normal(0, 0.02, (n, 1, h, w)).astype(np.float32))
    return (warped * bias + noise).clamp(0, 1), warped_masks


def _disk_dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    from scipy.ndimage import binary_dilation

    r = np.arange(-radius, radius + 1)
    disk = (r[:, None] ** 2 + r[None, :] ** 2) <= radius ** 2
    return binary_dilation(mask, structure=disk)


def add_lesion(image: np.ndarray, brain: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(image with a lesion, its pixel mask)`` for one ``(H, W)`` image and brain mask."""
    from scipy.ndimage import binary_erosion

    h, w = image.shape
    unit = h / SIZE
    inner = binary_erosion(brain, iterations=max(1, int(round(6 * unit))))
    candidates = np.argwhere(inner if inner.any() else brain)
    if candidates.size == 0:
        raise CircuitVAEError("a slice without brain pixels cannot hold a lesion")
    cy, cx = candidates[rng.integers(len(candidates))]
    yy, xx = np.mgrid[0:h, 0:w]
    field_ = np.zeros((h, w))
    for _ in range(int(rng.integers(3, 6))):
        oy, ox = rng.normal(0, 3 * unit, 2)
        r = rng.uniform(2, 6) * unit
        field_ += np.exp(-((yy - cy - oy) ** 2 + (xx - cx - ox) ** 2) / (2 * r ** 2))
    core = (field_ > 0.5) & brain
    if not core.any():
        core[cy, cx] = True
    ring = _disk_dilate(core, int(rng.integers(2, 5) * unit)) & ~core & brain
    out = image.copy()
    texture = rng.normal(0, 0.03, (h, w))
    out[core] = np.clip(rng.uniform(0.85, 1.0) + texture[core], 0, 1)
    out[ring] = np.clip(out[ring] + rng.uniform(0.15, 0.3), 0, 1)
    return out, core | ring


def load_mri_standin(*, seed: int = 0, n_train: int | None = None, n_test: int | None = None,
                     size: int = SIZE, lesion_fraction: float = 0.5) -> AnomalyDataset:
    """The offline MRI stand-in (see the module doc): ``n_train`` healthy training images
    (default 2000) and ``n_test`` test images (default 1000), ``lesion_fraction`` of them
    lesioned."""
    n_train = 2000 if n_train is None else int(n_train)
    n_test = 1000 if n_test is None else int(n_test)
    if n_train < 1 or n_test < 2 or not 0 < lesion_fraction < 1:
        raise CircuitVAEError("n_train >= 1, n_test >= 2 and 0 < lesion_fraction < 1 needed")
    slices, brains = template_slices(size)
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(slices), size=n_train + n_test)
    images, masks = _augment(torch.from_numpy(slices[pick]), torch.from_numpy(brains[pick]),
                             rng)
    x = images.numpy()
    brain = masks.numpy()[:, 0]
    n_les = int(round(lesion_fraction * n_test))
    y = np.zeros(n_test, dtype=np.int64)
    y[rng.permutation(n_test)[:n_les]] = 1
    lesion_masks = np.zeros((n_test, 1, size, size), dtype=np.float32)
    test = x[n_train:].copy()
    for i in np.flatnonzero(y):
        test[i, 0], m = add_lesion(test[i, 0], brain[n_train + i], rng)
        lesion_masks[i, 0] = m
    provenance = {"source": "procedural stand-in from the MNI152 T1 template (ICBM 2009a, "
                            "2 mm) in nilearn", "seed": seed, "size": size,
                  "lesion_fraction": lesion_fraction, "template_slices": int(len(slices)),
                  "comparable_with_brats": False}
    return AnomalyDataset("mri_standin",
                          Split(torch.from_numpy(x[:n_train]), np.zeros(n_train, np.int64)),
                          Split(torch.from_numpy(test), y), lesion_masks, provenance)


# --------------------------------------------------------------------------- BraTS2020


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError as err:
        raise CircuitVAEError(f"reading BraTS2020 needs nibabel: {MRI_HINT}") from err
    return nibabel


def brats_subjects(root: str | os.PathLike | None = None) -> list[tuple[Path, Path]]:
    """``(flair, seg)`` file pairs of every subject found under ``<dir>/brats2020/``, for the
    data folders searched (``root``, ``$CIRCUITVAE_DATA``, the cache)."""
    searched = []
    for folder in search_dirs("brats2020", root):
        searched.append(str(folder))
        pairs = []
        for subject in sorted(p for p in folder.glob("*") if p.is_dir()):
            flair = next(iter(sorted(subject.glob("*_flair.nii*"))), None)
            seg = next(iter(sorted(subject.glob("*_seg.nii*"))), None)
            if flair is not None and seg is not None:
                pairs.append((flair, seg))
        if pairs:
            return pairs
    raise MissingDataError(
        "BraTS2020 not found: expected <dir>/brats2020/<subject>/<subject>_flair.nii.gz and "
        "<subject>_seg.nii.gz (the official MICCAI BraTS 2020 training data, registration at "
        "https://www.med.upenn.edu/cbica/brats2020/data.html) in one of: "
        + ", ".join(searched) + ". Offline, use the stand-in: load_dataset('mri_standin')")


def _slices_of(flair: Path, seg: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    nib = _nibabel()
    vol = np.asarray(nib.load(str(flair)).get_fdata(), dtype=np.float32)
    lab = np.asarray(nib.load(str(seg)).get_fdata()) > 0
    if vol.shape != lab.shape:
        raise CircuitVAEError(f"{flair.name} and {seg.name} have shapes {vol.shape} and "
                              f"{lab.shape}")
    vol = np.clip(vol / max(float(np.percentile(vol[vol > 0], 99.5)), 1e-6), 0, 1)
    keep = [z for z in range(vol.shape[2]) if (vol[:, :, z] > 0).mean() >= 0.15]
    if not keep:
        return np.zeros((0, 1, size, size), np.float32), np.zeros((0, 1, size, size), bool)
    img = torch.from_numpy(np.stack([np.rot90(vol[:, :, z]).copy() for z in keep]))[:, None]
    msk = torch.from_numpy(np.stack([np.rot90(lab[:, :, z]).astype(np.float32).copy()
                                     for z in keep]))[:, None]
    img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    msk = F.interpolate(msk, size=(size, size), mode="nearest")
    return img.numpy(), msk.numpy() > 0.5


def load_brats(root: str | os.PathLike | None = None, *, seed: int = 0,
               n_train: int | None = None, n_test: int | None = None,
               size: int = SIZE) -> AnomalyDataset:
    """BraTS2020 FLAIR axial slices (see the module doc); ``n_train`` / ``n_test``: seeded
    subsamples of the healthy training slices and of the test slices (None: all)."""
    pairs = brats_subjects(root)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))
    n_fit = max(1, int(math.floor(0.8 * len(pairs))))
    train_x, test_x, test_m = [], [], []
    for rank, i in enumerate(order):
        img, msk = _slices_of(*pairs[i], size)
        tumour = msk.reshape(len(msk), -1).any(1)
        if rank < n_fit:
            train_x.append(img[~tumour])
        else:
            test_x.append(img)
            test_m.append(msk)
    x_tr = np.concatenate(train_x) if train_x else np.zeros((0, 1, size, size), np.float32)
    if not test_x:
        raise CircuitVAEError("BraTS2020 needs 2+ subjects (train and test subjects)")
    x_te, m_te = np.concatenate(test_x), np.concatenate(test_m)
    if n_train is not None and n_train < len(x_tr):
        x_tr = x_tr[np.sort(rng.choice(len(x_tr), n_train, replace=False))]
    if n_test is not None and n_test < len(x_te):
        keep = np.sort(rng.choice(len(x_te), n_test, replace=False))
        x_te, m_te = x_te[keep], m_te[keep]
    y = m_te.reshape(len(m_te), -1).any(1).astype(np.int64)
    provenance = {"source": "BraTS2020 training data (FLAIR, axial)", "subjects": len(pairs),
                  "train_subjects": n_fit, "seed": seed, "size": size}
    return AnomalyDataset("brats2020", Split(torch.from_numpy(x_tr),
                                             np.zeros(len(x_tr), np.int64)),
                          Split(torch.from_numpy(x_te), y), m_te.astype(np.float32), provenance)
