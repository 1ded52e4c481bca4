"""CelebA (aligned): ``img_align_celeba/`` JPEGs plus ``list_attr_celeba.txt``.

``list_attr_celeba.txt``: first line the image count, second the 40 attribute names, then one
line per image: file name and 40 values in {-1, 1}. The 40 attributes are binary factors
(1 = present). The attributes do not form a grid, so [our choice] ``sample_factors`` draws rows
of the attribute table and ``sample_observations_from_factors`` returns, for each factor row, a
random image with exactly those attributes (an error if none has them); ``index_of`` is the
2^40 grid index as for the other sets. Images [our choice]: central square crop of side
``min(148, H, W)``, resized to 64x64 (antialiased bilinear), 3 channels. Reading needs Pillow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from circuitvae.protocol import CircuitVAEError

from .files import DataError, find_image_file, sha256_file
from .images import IMAGE_SIZE, ImageDataset

ATTR_FILE = "list_attr_celeba.txt"
IMAGE_DIR = "img_align_celeba"
CROP = 148


def read_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(attribute names, file names, (N, 40) 0/1 int64 table) from list_attr_celeba.txt."""
    lines = Path(path).read_text().splitlines()
    try:
        count = int(lines[0].strip())
        names = lines[1].split()
        rows = [ln.split() for ln in lines[2:] if ln.strip()]
        files = [r[0] for r in rows]
        table = np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int64)
    except (IndexError, ValueError) as err:
        raise DataError(f"{path} is not in the list_attr_celeba.txt format: {err}") from err
    if len(rows) != count or table.shape != (count, len(names)) or \
            not np.isin(table, (-1, 1)).all():
        raise DataError(f"{path}: header says {count} images of {len(names)} attributes in "
                        f"{{-1, 1}}, found {table.shape} (truncated or corrupt?)")
    unsafe = [(i + 3, f) for i, f in enumerate(files) if not _plain_file_name(f)]
    if unsafe:
        line, name = unsafe[0]
        raise DataError(f"{path} line {line}: image name {name!r} is not a plain file name "
                        f"inside {IMAGE_DIR}/ ({len(unsafe)} such name(s)); refusing to read "
                        "outside the dataset folder")
    return names, files, (table > 0).astype(np.int64)


def _plain_file_name(name: str) -> bool:
    """A file name that stays inside its folder: no separators, no parent references, not
    absolute, no NUL."""
    return (bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and not Path(name).is_absolute() and ":" not in name)


class CelebA(ImageDataset):
    """CelebA aligned faces with 40 binary attribute factors."""

    channels = 3
    _use_lut = False

    def __init__(self, attr_path: Path, *, seed: int = 0, n_train: int | None = None,
                 n_test: int | None = None) -> None:
        self.name = "celeba"
        names, self._files, table = read_attributes(attr_path)
        self.factor_names = tuple(names)
        self.factor_sizes = (2,) * len(names)
        self._present = table
        self.num_rows = len(table)
        self._image_dir = Path(attr_path).parent / IMAGE_DIR
        if not self._image_dir.is_dir():
            raise DataError(f"celeba: image folder {self._image_dir} not found next to "
                            f"{ATTR_FILE}; unzip img_align_celeba.zip there")
        keys = table @ (1 << np.arange(len(names), dtype=np.int64)[::-1])
        order = np.argsort(keys, kind="stable")
        self._keys, self._order = keys[order], order
        self.provenance = {"source": "files", "files": [
            {"file": f"celeba/{ATTR_FILE}", "sha256": sha256_file(Path(attr_path)),
             "verified": "format"}, {"file": f"celeba/{IMAGE_DIR}/", "verified": "read lazily"}]}
        self._finish(seed=seed, n_train=n_train, n_test=n_test)

    def _rows_of(self, factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        keys = self.index_of(factors)
        lo = np.searchsorted(self._keys, keys, side="left")
        hi = np.searchsorted(self._keys, keys, side="right")
        if (hi == lo).any():
            bad = factors[int(np.argmax(hi == lo))]
            raise CircuitVAEError(f"celeba has no image with attributes {bad.tolist()}")
        return self._order[lo + (rng.random(len(keys)) * (hi - lo)).astype(np.int64)]

    def _read(self, rows: np.ndarray) -> np.ndarray:
        try:
            from PIL import Image
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise DataError("reading CelebA needs Pillow: pip install pillow") from err
        out = np.empty((len(rows), 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        for i, r in enumerate(rows):
            path = self._image_dir / self._files[r]
            try:
                with Image.open(path) as im:
                    arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
            except OSError as err:
                raise DataError(f"celeba: cannot read image {path}: {err}") from err
            h, w = arr.shape[:2]
            s = min(CROP, h, w)
            top, left = (h - s) // 2, (w - s) // 2
            t = torch.from_numpy(arr[top:top + s, left:left + s]).permute(2, 0, 1)[None]
            out[i] = F.interpolate(t, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                                   antialias=True, align_corners=False).clamp(0, 1)[0].numpy()
        return out


def load_celeba(*, root: str | os.PathLike | None = None, seed: int = 0,
                n_train: int | None = None, n_test: int | None = None) -> CelebA:
    """CelebA from ``<dir>/celeba/list_attr_celeba.txt`` and ``<dir>/celeba/img_align_celeba/``."""
    path = find_image_file("celeba", ATTR_FILE, root,
                           "Get the aligned images and attribute list from the CelebA site "
                           f"(mmlab.ie.cuhk.edu.hk/projects/CelebA.html); put {IMAGE_DIR}/ beside "
                           "the attribute file.")
    return CelebA(path, seed=seed, n_train=n_train, n_test=n_test)
