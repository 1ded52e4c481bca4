"""MPI3D (``mpi3d_<variant>.npz``, array ``images`` (1036800, 64, 64, 3) uint8).

Factors, in file order (last fastest): object_color 6, object_shape 6, object_size 2,
camera_height 3, background_color 3, horizontal_axis 40, vertical_axis 40. Variants: ``toy``,
``realistic``, ``real``. Only requested rows are read (memory-mapped when the npz is stored
uncompressed, streamed otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import DataError, find_image_file, sha256_file
from .images import IMAGE_SIZE, ImageDataset
from .npy import NpzArray

FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
VARIANTS = ("toy", "realistic", "real")


class MPI3D(ImageDataset):
    """MPI3D (3 channels) read from the official npz."""

    channels = 3
    factor_names = FACTOR_NAMES

    def __init__(self, path: Path, *, variant: str = "toy", seed: int = 0,
                 n_train: int | None = None, n_test: int | None = None,
                 factor_sizes: tuple[int, ...] = FACTOR_SIZES) -> None:
        self.name = f"mpi3d_{variant}"
        self.factor_sizes = tuple(factor_sizes)
        self.num_rows = int(np.prod(self.factor_sizes))
        self._imgs = NpzArray(path, "images")
        want = (self.num_rows, IMAGE_SIZE, IMAGE_SIZE, 3)
        if tuple(self._imgs.shape) != want or self._imgs.dtype != np.uint8:
            raise DataError(f"{path}: images is {self._imgs.dtype} {self._imgs.shape}, "
                            f"expected uint8 {want}")
        self.provenance = {"source": "files", "files": [
            {"file": f"mpi3d/{Path(path).name}", "sha256": sha256_file(Path(path)),
             "verified": "structure (images shape and dtype)"}]}
        self._finish(seed=seed, n_train=n_train, n_test=n_test)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        return self._imgs.rows(rows).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def load_mpi3d(*, root: str | os.PathLike | None = None, variant: str = "toy", seed: int = 0,
               n_train: int | None = None, n_test: int | None = None) -> MPI3D:
    """MPI3D from ``<dir>/mpi3d/mpi3d_<variant>.npz``."""
    if variant not in VARIANTS:
        raise DataError(f"mpi3d variant must be one of {VARIANTS}, got {variant!r}")
    path = find_image_file("mpi3d", f"mpi3d_{variant}.npz", root,
                           "Download it from the MPI3D project (github.com/rr-learning/"
                           "disentanglement_dataset).")
    return MPI3D(path, variant=variant, seed=seed, n_train=n_train, n_test=n_test)
