"""3D Shapes: the official ``3dshapes.h5`` when present, else an exact-grid procedural scene.

The file: ``images`` (480000, 64, 64, 3) uint8, ``labels`` (480000, 6). Factors, in file order
(orientation fastest): floor_hue 10, wall_hue 10, object_hue 10 (``0, 0.1, ..., 0.9``), scale 8
(``linspace(0.75, 1.25, 8)``), shape 4 (cube, cylinder, sphere, capsule), orientation 15
(``linspace(-30, 30, 15)`` degrees). Rows are read lazily with h5py (sorted indices) and only
those are converted to float32: the whole set as float32 would take about 23 GB.

Procedural rendering [our choice] (:func:`render`), with the same factor grid and ordering: a
room seen from the front, a back wall (rows above the horizon at 34 of 64) and a floor, and one
object standing on the floor at the centre, in fully saturated HSV colours:

* the wall has two panels meeting at a corner whose column moves with the orientation
  (``32 + 24 sin(theta)``); the left panel is darker;
* the floor gets lighter towards the viewer;
* the object is scaled by ``scale`` (height 18 px at scale 1) and lit from the direction of
  the orientation (Lambertian shading across its width): a cube with two faces, an upright
  cylinder, a sphere, or a capsule.

Every factor changes the image, and each only its own part (wall hue: the wall; floor hue: the
floor; object hue, scale, shape: the object; orientation: the object's shading and the wall
corner; a test checks it). The pixels approximate, but do not reproduce, the official
renderings.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import DataError, MissingDataError, find_image_file, sha256_file
from .images import IMAGE_SIZE, ImageDataset

FILENAME = "3dshapes.h5"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPES = ("cube", "cylinder", "sphere", "capsule")
HUES = np.linspace(0.0, 0.9, 10)
SCALES = np.linspace(0.75, 1.25, 8)
ORIENTATIONS = np.linspace(-30.0, 30.0, 15)
HORIZON = 34


def _hsv(h: np.ndarray) -> np.ndarray:
    """Fully saturated, full-value HSV hues ``(n,)`` as RGB ``(n, 3)``."""
    k = (np.array([5.0, 3.0, 1.0])[None] + 6.0 * h[:, None]) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def object_mask(factors: np.ndarray) -> np.ndarray:
    """``(n, 64, 64)`` bool: where the object is, for factor classes ``(n, 6)``."""
    return _object(np.asarray(factors, dtype=np.int64))[0]


def _object(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The object's mask and its shading ``(n, 64, 64)``."""
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) + 0.5
    x, y = x[None], y[None]
    scale = SCALES[f[:, 3]].astype(np.float32)[:, None, None]
    theta = np.deg2rad(ORIENTATIONS[f[:, 5]]).astype(np.float32)[:, None, None]
    shape = f[:, 4][:, None, None]
    height, half = 18.0 * scale, 7.0 * scale
    base, cx = 54.0, 32.0
    u = (x - cx) / half  # -1..1 across the object's width
    body = (np.abs(u) <= 1) & (y >= base - height) & (y <= base)
    r = 1.1 * half
    sphere = (x - cx) ** 2 + (y - (base - r)) ** 2 <= r ** 2
    cap_r = 0.7 * half
    capsule = ((np.abs(x - cx) <= cap_r) & (y >= base - height + cap_r) & (y <= base - cap_r)
               ) | ((x - cx) ** 2 + (y - (base - height + cap_r)) ** 2 <= cap_r ** 2) | (
                   (x - cx) ** 2 + (y - (base - cap_r)) ** 2 <= cap_r ** 2)
    cylinder = body | (((x - cx) / half) ** 2 + ((y - (base - height)) / (0.3 * half)) ** 2 <= 1)
    mask = np.where(shape == 0, body, np.where(shape == 1, cylinder,
                                               np.where(shape == 2, sphere, capsule)))
    width = np.where(shape == 2, r, np.where(shape == 3, cap_r, half))
    normal = np.arcsin(np.clip((x - cx) / width, -1.0, 1.0))
    shade = 0.45 + 0.55 * np.clip(np.cos(normal - theta), 0.0, 1.0)
    faces = np.where(x - cx < 8.0 * np.sin(theta) * scale, 0.65 + 0.2 * np.sin(theta), 1.0)
    shade = np.where(shape == 0, faces, shade)
    return mask, shade.astype(np.float32)


def render(factors: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Procedural 3D Shapes images ``(n, 3, 64, 64)`` float32 in [0, 1] for factor classes
    ``(n, 6)`` (see the module docstring)."""
    factors = np.asarray(factors, dtype=np.int64)
    out = np.empty((len(factors), 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    rows = np.arange(IMAGE_SIZE, dtype=np.float32)[:, None] + 0.5
    cols = np.arange(IMAGE_SIZE, dtype=np.float32)[None, :] + 0.5
    floor_shade = np.where(rows >= HORIZON, 0.6 + 0.4 * (rows - HORIZON) / (64 - HORIZON), 0.0)
    for s in range(0, len(factors), chunk):
        f = factors[s:s + chunk]
        n = len(f)
        theta = np.deg2rad(ORIENTATIONS[f[:, 5]]).astype(np.float32)[:, None, None]
        corner = 32.0 + 24.0 * np.sin(theta)
        wall_shade = np.where(cols[None] < corner, 0.7, 0.9) * (rows[None] < HORIZON)
        floor = np.broadcast_to(floor_shade[None], (n, IMAGE_SIZE, IMAGE_SIZE))
        mask, obj_shade = _object(f)
        img = (wall_shade[:, None] * _hsv(HUES[f[:, 1]])[:, :, None, None]
               + floor[:, None] * _hsv(HUES[f[:, 0]])[:, :, None, None])
        obj = obj_shade[:, None] * _hsv(HUES[f[:, 2]])[:, :, None, None]
        out[s:s + n] = np.where(mask[:, None], obj, img)
    return out


def require_h5py():
    """Import h5py, with a clear message when it is missing."""
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise DataError("reading .h5 files needs h5py: pip install 'circuitvae[data]' "
                        "(or pip install h5py)") from err
    return h5py


class Shapes3D(ImageDataset):
    """3D Shapes (3 channels): the official h5 file, or procedural with ``path=None``."""

    channels = 3
    factor_names = FACTOR_NAMES

    def __init__(self, path: Path | None = None, *, seed: int = 0, n_train: int | None = None,
                 n_test: int | None = None,
                 factor_sizes: tuple[int, ...] = FACTOR_SIZES) -> None:
        self.name = "shapes3d"
        self.factor_sizes = tuple(factor_sizes)
        self.num_rows = int(np.prod(self.factor_sizes))
        self.path = None if path is None else Path(path)
        if self.path is None:
            self.provenance = {
                "source": "procedural",
                "generator": "circuitvae.zoo.data.shapes3d.render",
                "note": f"{FILENAME} not found; a room with one object rendered procedurally "
                        "with the official factor grid and ordering (pixels approximate the "
                        "official renderings)",
            }
            self._finish(seed=seed, n_train=n_train, n_test=n_test)
            return
        h5py = require_h5py()
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
        if self.path is None:
            return render(self.factors_of_index(rows))
        h5py = require_h5py()
        with h5py.File(self.path, "r") as f:
            imgs = f["images"][np.asarray(rows, dtype=np.int64)]
        return (imgs.transpose(0, 3, 1, 2).astype(np.float32)) / 255.0


def load_shapes3d(*, root: str | os.PathLike | None = None, source: str = "auto", seed: int = 0,
                  n_train: int | None = None, n_test: int | None = None) -> Shapes3D:
    """3D Shapes from ``<dir>/shapes3d/3dshapes.h5`` (``source="file"``), procedurally
    (``"procedural"``), or the file when found, else procedural (``"auto"``)."""
    if source not in ("auto", "file", "procedural"):
        raise DataError(f"source must be 'auto', 'file' or 'procedural', got {source!r}")
    path = None
    if source != "procedural":
        try:
            path = find_image_file(
                "shapes3d", FILENAME, root,
                "Download it from https://storage.googleapis.com/3d-shapes/3dshapes.h5.")
        except MissingDataError:
            if source == "file":
                raise
    return Shapes3D(path, seed=seed, n_train=n_train, n_test=n_test)
