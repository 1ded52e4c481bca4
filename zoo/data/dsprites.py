"""dSprites: the official npz when present, else an exact-grid procedural generator.

Factors (official grid and order): color 1, shape 3 (square, ellipse, heart), scale 6
(``linspace(0.5, 1, 6)``), orientation 40 (``linspace(0, 2 pi, 40)``), posX 32, posY 32
(``linspace(0, 1, 32)``); 737,280 images, index ``= sum class_k * base_k``.

The official file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` is read with
``allow_pickle=False`` (its pickled ``metadata`` is never touched); only requested rows of
``imgs`` are decompressed. No checksum of the npz is known to us, so it is checked structurally:
``imgs`` is uint8 ``(737280, 64, 64)`` and ``latents_classes`` equals the expected grid.

Procedural rendering [our choice]: a binary 64x64 image with the shape centred at
``0.18 + 0.64 * pos`` (unit image coordinates; posX -> column, posY -> row, downwards), half-size
``0.12 * scale``, rotated counter-clockwise by the orientation. Same factor grid and ordering as
the official data; the pixels approximate, but do not reproduce, the official sprites. Note that
orientation is not identifiable from images for symmetric shapes (square: 90 degrees, ellipse:
180 degrees), in the official data as here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import DataError, MissingDataError, search_dirs, sha256_file
from .images import IMAGE_SIZE, ImageDataset
from .npy import NpzArray

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)


def render(factors: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Procedural dSprites images ``(n, 64, 64)`` uint8 in {0, 1} for factor classes (n, 6).

    Each image evaluates only its own shape's implicit equation (float32).
    """
    factors = np.asarray(factors, dtype=np.int64)
    out = np.empty((len(factors), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    grid = ((np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE).astype(np.float32)
    px, py = grid[None, None, :], grid[None, :, None]
    for shape in np.unique(factors[:, 1]):
        rows = np.flatnonzero(factors[:, 1] == shape)
        for s in range(0, len(rows), chunk):
            idx = rows[s:s + chunk]
            f = factors[idx]
            r = (0.12 * SCALES[f[:, 2]]).astype(np.float32)[:, None, None]
            th = ORIENTATIONS[f[:, 3]].astype(np.float32)[:, None, None]
            cx = (0.18 + 0.64 * POSITIONS[f[:, 4]]).astype(np.float32)[:, None, None]
            cy = (0.18 + 0.64 * POSITIONS[f[:, 5]]).astype(np.float32)[:, None, None]
            dx, dy = (px - cx) / r, -(py - cy) / r
            cos, sin = np.cos(th), np.sin(th)
            u, v = cos * dx + sin * dy, -sin * dx + cos * dy
            if shape == 0:  # square
                img = np.maximum(np.abs(u), np.abs(v)) <= 1.0
            elif shape == 1:  # ellipse
                img = u**2 + (v / 0.5) ** 2 <= 1.0
            else:  # heart
                hx, hy = 1.2 * u, 1.2 * v + 0.2
                img = (hx**2 + hy**2 - 1) ** 3 - hx**2 * hy**3 <= 0
            out[idx] = img
    return out


def expected_grid(sizes: tuple[int, ...]) -> np.ndarray:
    """All factor class rows in grid order (last factor fastest)."""
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


class DSprites(ImageDataset):
    """dSprites (1 channel). ``path=None``: procedural."""

    channels = 1
    factor_names = FACTOR_NAMES
    label_factor = "shape"  # the downstream label of the tabular paper's dSprites runs

    def __init__(
        self,
        path: Path | None = None,
        *,
        seed: int = 0,
        n_train: int | None = None,
        n_test: int | None = None,
        factor_sizes: tuple[int, ...] = FACTOR_SIZES,
    ) -> None:
        self.name = "dsprites"
        self.factor_sizes = tuple(factor_sizes)
        self.num_rows = int(np.prod(self.factor_sizes))
        self._imgs: NpzArray | None = None
        if path is None:
            self.provenance = {
                "source": "procedural",
                "generator": "circuitvae.zoo.data.dsprites.render",
                "note": f"{FILENAME} not found; images rendered procedurally with the official "
                        "factor grid and ordering (pixels approximate the official sprites)",
            }
        else:
            self._imgs = NpzArray(path, "imgs")
            want = (self.num_rows, IMAGE_SIZE, IMAGE_SIZE)
            if self._imgs.shape != want or self._imgs.dtype != np.uint8:
                raise DataError(f"{path}: imgs is {self._imgs.dtype} {self._imgs.shape}, "
                                f"expected uint8 {want}")
            classes = NpzArray(path, "latents_classes").load()
            if classes.shape != (self.num_rows, 6) or not np.array_equal(
                classes, expected_grid(self.factor_sizes)
            ):
                raise DataError(f"{path}: latents_classes does not match the dSprites factor grid "
                                f"{self.factor_sizes}")
            self.provenance = {
                "source": "files",
                "files": [{"file": f"dsprites/{FILENAME}", "sha256": sha256_file(Path(path)),
                           "verified": "structure (imgs shape/dtype, latents_classes grid)"}],
            }
        self._finish(seed=seed, n_train=n_train, n_test=n_test)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        if self._imgs is None:
            imgs = render(self.factors_of_index(rows))
        else:
            imgs = self._imgs.rows(rows)
        return imgs[:, None].astype(np.float32)


def load_dsprites(
    *,
    root: str | os.PathLike | None = None,
    source: str = "auto",
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
) -> DSprites:
    """dSprites from the official npz (``source="file"``), procedurally (``"procedural"``), or
    the file when found, else procedural (``"auto"``)."""
    if source not in ("auto", "file", "procedural"):
        raise DataError(f"source must be 'auto', 'file' or 'procedural', got {source!r}")
    path = None
    if source != "procedural":
        for d in search_dirs("dsprites", root):
            if (d / FILENAME).is_file():
                path = d / FILENAME
                break
        if path is None and source == "file":
            dirs = ", ".join(str(d) for d in search_dirs("dsprites", root))
            raise MissingDataError(
                f"dsprites: {FILENAME} not found (searched {dirs}); download it from "
                "github.com/deepmind/dsprites-dataset and put it in <dir>/dsprites/, with "
                "root=<dir> or CIRCUITVAE_DATA=<dir>"
            )
    return DSprites(path, seed=seed, n_train=n_train, n_test=n_test)
