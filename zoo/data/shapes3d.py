"""3D Shapes (``3dshapes.h5``): ``images`` (480000, 64, 64, 3) uint8, ``labels`` (480000, 6).

Factors, in file order (orientation fastest): floor_hue 10, wall_hue 10, object_hue 10, scale 8,
shape 4, orientation 15. Rows are read lazily with h5py (sorted indices) and only those are
converted to float32: the whole set as float32 would take about 23 GB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import DataError, find_image_file, sha256_file
from .images import IMAGE_SIZE, ImageDataset

FILENAME = "3dshapes.h5"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)


def require_h5py():
    """Import h5py, with a clear message when it is missing."""
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise DataError("reading .h5 files needs h5py: pip install 'circuitvae[data]' "
                        "(or pip install h5py)") from err
    return h5py


class Shapes3D(ImageDataset):
    """3D Shapes (3 channels) read from the official h5 file."""

    channels = 3
    factor_names = FACTOR_NAMES

    def __init__(self, path: Path, *, seed: int = 0, n_train: int | None = None,
                 n_test: int | None = None,
                 factor_sizes: tuple[int, ...] = FACTOR_SIZES) -> None:
        h5py = require_h5py()
        self.name = "shapes3d"
        self.path = Path(path)
        self.factor_sizes = tuple(factor_sizes)
        self.num_rows = int(np.prod(self.factor_sizes))
        try:
            with h5py.File(self.path, "r") as f:
                shape, dtype = f["images"].shape, f["images"].dtype
                lshape = f["labels"].shape
        except (OSError, KeyError) as err:
            raise DataError(f"{self.path} is not a readable 3dshapes.h5 (needs datasets "
                            f"'images' and 'labels'; truncated or corrupt?): {err}") from err
        want = (self.num_rows, IMAGE_SIZE, IMAGE_SIZE, 3)
        if tuple(shape) != want or dtype != np.uint8 or tuple(lshape) != (self.num_rows, 6):
            raise DataError(f"{self.path}: images {dtype} {shape}, labels {lshape}; expected "
                            f"uint8 {want} and ({self.num_rows}, 6)")
        self.provenance = {"source": "files", "files": [
            {"file": f"shapes3d/{FILENAME}", "sha256": sha256_file(self.path),
             "verified": "structure (images/labels shapes and dtype)"}]}
        self._finish(seed=seed, n_train=n_train, n_test=n_test)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        h5py = require_h5py()
        with h5py.File(self.path, "r") as f:
            imgs = f["images"][np.asarray(rows, dtype=np.int64)]
        return (imgs.transpose(0, 3, 1, 2).astype(np.float32)) / 255.0


def load_shapes3d(*, root: str | os.PathLike | None = None, seed: int = 0,
                  n_train: int | None = None, n_test: int | None = None) -> Shapes3D:
    """3D Shapes from ``<dir>/shapes3d/3dshapes.h5``."""
    path = find_image_file("shapes3d", FILENAME, root,
                           "Download it from https://storage.googleapis.com/3d-shapes/3dshapes.h5.")
    return Shapes3D(path, seed=seed, n_train=n_train, n_test=n_test)
