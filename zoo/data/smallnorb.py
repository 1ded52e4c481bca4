"""SmallNORB from the official binary ``.mat`` files (NORB format, not MATLAB).

Each file: int32 little-endian magic (``0x1E3D4C55`` uint8, ``0x1E3D4C54`` int32, ...), int32
``ndim``, ``max(3, ndim)`` int32 dimensions, then the data. Files (training and testing):
``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat``; ``dat`` is (N, 2, 96, 96) uint8
stereo pairs, ``cat`` (N,) int32 categories, ``info`` (N, 4) int32 instance, elevation, azimuth
(0, 2, ..., 34) and lighting.

Factors: category 5, instance 10, elevation 9, azimuth 18 (raw / 2), lighting 6; training and
testing together cover the full 48,600-image grid. Images [our choice, as disentanglement_lib]:
the first camera, resized to 64x64 (antialiased bilinear), 1 channel.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .files import DataError, MissingDataError, search_dirs, sha256_file
from .images import IMAGE_SIZE, ImageDataset

FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
PARTS = {
    "training": "smallnorb-5x46789x9x18x6x2x96x96-training-{}.mat",
    "testing": "smallnorb-5x01235x9x18x6x2x96x96-testing-{}.mat",
}
MAGIC = {0x1E3D4C51: np.float32, 0x1E3D4C53: np.float64, 0x1E3D4C54: np.int32,
         0x1E3D4C55: np.uint8, 0x1E3D4C56: np.int16}


def read_norb(path: Path, *, mmap: bool = False) -> np.ndarray:
    """Read one NORB binary matrix file (memory-mapped when ``mmap``)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = np.frombuffer(f.read(8), dtype="<i4")
        if len(head) < 2 or int(head[0]) & 0xFFFFFFFF not in MAGIC:
            raise DataError(f"{path} is not a NORB binary matrix (bad magic number)")
        magic, ndim = int(head[0]) & 0xFFFFFFFF, int(head[1])
        if not 1 <= ndim <= 8:
            raise DataError(f"{path}: implausible ndim {ndim}")
        dims = np.frombuffer(f.read(4 * max(3, ndim)), dtype="<i4")[:ndim]
    dtype = np.dtype(MAGIC[magic]).newbyteorder("<")
    offset = 8 + 4 * max(3, ndim)
    shape = tuple(int(d) for d in dims)
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if size != expected:
        raise DataError(f"{path} is truncated or corrupt: {size} bytes, expected {expected} for "
                        f"shape {shape}")
    if mmap:
        return np.memmap(path, dtype, "r", offset=offset, shape=shape)
    return np.fromfile(path, dtype=dtype, offset=offset).reshape(shape)


class SmallNORB(ImageDataset):
    """SmallNORB (1 channel) from whichever of the training/testing file triples exist."""

    channels = 1
    factor_names = FACTOR_NAMES

    def __init__(self, triples: list[tuple[Path, Path, Path]], *, seed: int = 0,
                 n_train: int | None = None, n_test: int | None = None,
                 factor_sizes: tuple[int, ...] = FACTOR_SIZES) -> None:
        self.name = "smallnorb"
        self.factor_sizes = tuple(factor_sizes)
        self._dats, tables, files = [], [], []
        for dat, cat, info in triples:
            images = read_norb(dat, mmap=True)
            cats, inf = read_norb(cat), read_norb(info)
            n = images.shape[0]
            if images.ndim != 4 or images.dtype != np.uint8 or cats.shape != (n,) \
                    or inf.shape != (n, 4):
                raise DataError(f"{dat}: dat {images.dtype} {images.shape}, cat {cats.shape}, "
                                f"info {inf.shape}; expected uint8 (N, 2, H, W), (N,), (N, 4)")
            self._dats.append(images)
            tables.append(np.column_stack([cats, inf[:, 0], inf[:, 1], inf[:, 2] // 2,
                                           inf[:, 3]]).astype(np.int64))
            files += [{"file": f"smallnorb/{p.name}", "sha256": sha256_file(p),
                       "verified": "structure (headers, sizes)"} for p in (dat, cat, info)]
        self._offsets = np.cumsum([0] + [d.shape[0] for d in self._dats])
        self._present = self.check_factors(np.concatenate(tables))
        self.num_rows = len(self._present)
        if len(np.unique(self.index_of(self._present))) != self.num_rows:
            raise DataError("smallnorb: two images share the same factors")
        self.provenance = {"source": "files", "files": files}
        self._finish(seed=seed, n_train=n_train, n_test=n_test)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        part = np.searchsorted(self._offsets, rows, side="right") - 1
        out = []
        for p in range(len(self._dats)):
            local = rows[part == p] - self._offsets[p]
            if len(local):
                out.append(np.asarray(self._dats[p][local, 0]))
        imgs = torch.from_numpy(np.concatenate(out)[:, None].astype(np.float32) / 255.0)
        if imgs.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
            imgs = F.interpolate(imgs, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                                 antialias=True, align_corners=False).clamp_(0, 1)
        return imgs.numpy()


def load_smallnorb(*, root: str | os.PathLike | None = None, seed: int = 0,
                   n_train: int | None = None, n_test: int | None = None) -> SmallNORB:
    """SmallNORB from ``<dir>/smallnorb/`` (training and/or testing triples)."""
    triples = []
    for d in search_dirs("smallnorb", root):
        for pattern in PARTS.values():
            paths = tuple(d / pattern.format(k) for k in ("dat", "cat", "info"))
            if all(p.is_file() for p in paths):
                triples.append(paths)
        if triples:
            break
    if not triples:
        dirs = ", ".join(str(d) for d in search_dirs("smallnorb", root))
        names = ", ".join(p.format(k) for p in PARTS.values() for k in ("dat", "cat", "info"))
        raise MissingDataError(
            f"smallnorb: none of the file triples found (searched {dirs}). Put the official "
            f"(unzipped) files {names} at <dir>/smallnorb/ and pass root=<dir> or set "
            f"CIRCUITVAE_DATA=<dir>.")
    return SmallNORB(triples, seed=seed, n_train=n_train, n_test=n_test)
