"""Ground-truth image datasets: the shared interface and the split logic.

Like disentanglement_lib's ``GroundTruthData``: ``factor_names``, ``factor_sizes``,
``sample_factors(n, rng)``, ``sample_observations_from_factors(factors, rng)`` and ``index_of``.
Factors index a row-major grid, last factor fastest: ``index = sum_k class_k * base_k`` with
``bases = prod(sizes) / cumprod(sizes)``. Images are read lazily: only the rows requested are
ever converted to float32 ``(n, C, 64, 64)`` in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from circuitvae.protocol import CircuitVAEError, Split

IMAGE_SIZE = 64
DEFAULT_N_TRAIN = 5000
DEFAULT_N_TEST = 1000


def factor_bases(sizes: Sequence[int]) -> np.ndarray:
    """``prod(sizes) / cumprod(sizes)``: the stride of each factor in the row-major grid."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.prod(sizes) // np.cumprod(sizes)


def _rng(rng: np.random.Generator | np.random.RandomState | int) -> np.random.Generator:
    """A Generator from a Generator, a seed, or a legacy RandomState (sharing its bit stream,
    so disentanglement_lib-style callers that pass a RandomState stay deterministic)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.RandomState):
        return np.random.Generator(rng._bit_generator)
    return np.random.default_rng(rng)


class ImageDataset:
    """Base class: subclasses set the attributes below and implement :meth:`_read`.

    ``num_rows``: images available. ``_present``: ``None`` when rows are exactly the full factor
    grid in grid order; otherwise an ``(num_rows, K)`` factor table (rows in file order).
    """

    name: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    channels: int
    num_rows: int
    provenance: dict[str, Any]
    label_factor: str | None = None  # the factor used as the downstream label (``Split.y``)
    _present: np.ndarray | None = None
    _use_lut = True
    _full_grid = True
    train: Split
    test: Split

    def _split(self, rows: np.ndarray) -> Split:
        factors = self.factors_of_rows(rows)
        label = None
        if self.label_factor is not None:
            label = factors[:, self.factor_names.index(self.label_factor)].astype(np.int64)
        return Split(self.images(rows), label, factors)

    # ---------------------------------------------------------------- subclass hooks
    def _read(self, rows: np.ndarray) -> np.ndarray:
        """float32 ``(len(rows), C, 64, 64)`` in [0, 1] for sorted unique ``rows``."""
        raise NotImplementedError

    def _rows_of(self, factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        idx = self.index_of(factors)
        if self._present is None:
            return idx
        rows = self._lut[idx]
        if (rows < 0).any():
            bad = factors[int(np.argmax(rows < 0))]
            raise CircuitVAEError(f"{self.name} has no image with factors {bad.tolist()}")
        return rows

    # ---------------------------------------------------------------- interface
    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def factor_bases(self) -> np.ndarray:
        return factor_bases(self.factor_sizes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, IMAGE_SIZE, IMAGE_SIZE)

    observation_shape = input_shape

    def check_factors(self, factors: Any) -> np.ndarray:
        """``factors`` as an int64 ``(n, K)`` array, with a clear error when out of range."""
        f = np.asarray(factors)
        if f.ndim == 1:
            f = f[None]
        if f.ndim != 2 or f.shape[1] != self.num_factors:
            raise CircuitVAEError(
                f"factors must have shape (n, {self.num_factors}) for {self.name} "
                f"({', '.join(self.factor_names)}), got {np.shape(factors)}"
            )
        if not np.issubdtype(f.dtype, np.integer):
            if not np.all(f == np.round(f)):
                raise CircuitVAEError("factors must be integer class indices")
        f = f.astype(np.int64)
        sizes = np.asarray(self.factor_sizes)
        bad = (f < 0) | (f >= sizes)
        if bad.any():
            r, k = map(int, np.argwhere(bad)[0])
            raise CircuitVAEError(
                f"factor {self.factor_names[k]!r} = {f[r, k]} is outside 0..{sizes[k] - 1}"
            )
        return f

    def index_of(self, factors: Any) -> np.ndarray:
        """Grid index ``sum_k class_k * base_k`` of each factor row."""
        return self.check_factors(factors) @ self.factor_bases

    def factors_of_index(self, index: Any) -> np.ndarray:
        """Inverse of :meth:`index_of`: ``(n, K)`` classes of grid indices."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        total = int(np.prod(self.factor_sizes))
        if ((index < 0) | (index >= total)).any():
            raise CircuitVAEError(f"grid index outside 0..{total - 1}")
        return (index[:, None] // self.factor_bases) % np.asarray(self.factor_sizes)

    def factors_of_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.factors_of_index(rows) if self._present is None else self._present[rows]

    def sample_factors(self, n: int, rng: np.random.Generator | int) -> np.ndarray:
        """``n`` factor rows: independent uniform classes on a full grid; rows of the factor
        table (its empirical distribution) when the data does not cover the grid."""
        rng = _rng(rng)
        if self._present is not None and not self._full_grid:
            return self._present[rng.integers(0, self.num_rows, size=n)]
        return np.stack([rng.integers(0, s, size=n) for s in self.factor_sizes], axis=1)

    def sample_observations_from_factors(
        self, factors: Any, rng: np.random.Generator | int = 0
    ) -> Tensor:
        """float32 images ``(n, C, 64, 64)`` in [0, 1] for the given factor classes (``rng``
        only picks among several images with the same factors, as in CelebA)."""
        return self.images(self._rows_of(self.check_factors(factors), _rng(rng)))

    def sample(self, n: int, rng: np.random.Generator | int):
        """``(factors, images)`` for ``n`` random factor rows."""
        rng = _rng(rng)
        f = self.sample_factors(n, rng)
        return f, self.sample_observations_from_factors(f, rng)

    def images(self, rows: Any) -> Tensor:
        """float32 images of file rows (any order, repeats allowed); only those rows are read."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        uniq, inverse = np.unique(rows, return_inverse=True)
        return torch.from_numpy(np.ascontiguousarray(self._read(uniq)[inverse]))

    # ---------------------------------------------------------------- setup
    def _finish(self, *, seed: int, n_train: int | None, n_test: int | None) -> None:
        """Index the factor table and draw the seeded train/test splits (disjoint rows)."""
        if self._present is not None and not self._use_lut:
            self._full_grid = False
        elif self._present is not None:
            self._lut = np.full(int(np.prod(self.factor_sizes)), -1, dtype=np.int64)
            self._lut[self.index_of(self._present)] = np.arange(self.num_rows)
            self._full_grid = bool((self._lut >= 0).all())
        n_train = DEFAULT_N_TRAIN if n_train is None else int(n_train)
        n_test = DEFAULT_N_TEST if n_test is None else int(n_test)
        if n_train < 1 or n_test < 1:
            raise CircuitVAEError("n_train and n_test must be >= 1")
        if n_train + n_test > self.num_rows:
            raise CircuitVAEError(
                f"{self.name} has {self.num_rows} images, fewer than n_train + n_test = "
                f"{n_train + n_test}"
            )
        rows = np.random.default_rng(seed).choice(self.num_rows, n_train + n_test, replace=False)
        tr, te = np.sort(rows[:n_train]), np.sort(rows[n_train:])
        self.train, self.test = self._split(tr), self._split(te)
        self.provenance = {**self.provenance, "split": f"random disjoint rows, seed {seed}",
                           "n_train": n_train, "n_test": n_test}

    def __repr__(self) -> str:
        sizes = dict(zip(self.factor_names, self.factor_sizes, strict=True))
        return (f"{type(self).__name__}({self.name!r}, factors={sizes}, "
                f"train={len(self.train)}, test={len(self.test)})")
