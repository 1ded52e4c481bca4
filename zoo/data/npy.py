"""Row-wise access to one array inside an ``.npz`` without loading the whole array.

A member stored uncompressed (``np.savez``) is memory-mapped; a compressed member
(``np.savez_compressed``) is streamed, decompressing forward to the requested rows (sorted), so
memory stays at the size of the rows read. Pickled members are never loaded.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from .files import DataError


class NpzArray:
    """The array ``key`` of the npz at ``path``: ``shape``, ``dtype`` and :meth:`rows`."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = Path(path), key
        try:
            with zipfile.ZipFile(self.path) as zf:
                self.info = zf.getinfo(key + ".npy")
                with zf.open(self.info) as f:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    self.shape, fortran, self.dtype = read(f)
                    self.header_len = f.tell()
        except KeyError as err:
            raise DataError(f"{self.path} has no array {key!r}") from err
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
            raise DataError(f"{self.path} is not a readable .npz file "
                            f"(truncated or corrupt?): {err}") from err
        if self.dtype.hasobject:
            raise DataError(f"{self.path}:{key} holds Python objects; refusing to unpickle")
        if fortran:
            raise DataError(f"{self.path}:{key} is Fortran-ordered; expected C order")
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        expected = self.header_len + self.shape[0] * self.row_bytes
        if self.info.file_size != expected:
            raise DataError(f"{self.path}:{key} is truncated ({self.info.file_size} bytes, "
                            f"expected {expected})")
        self._mmap: np.memmap | None = None
        if self.info.compress_type == zipfile.ZIP_STORED:
            with open(self.path, "rb") as f:
                f.seek(self.info.header_offset)
                local = f.read(30)
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            offset = self.info.header_offset + 30 + name_len + extra_len + self.header_len
            self._mmap = np.memmap(self.path, self.dtype, "r", offset=offset, shape=self.shape)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """A copy of ``array[rows]`` for sorted unique ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._mmap is not None:
            return np.asarray(self._mmap[rows])
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        with zipfile.ZipFile(self.path) as zf, zf.open(self.info) as f:
            for i, r in enumerate(rows):
                f.seek(self.header_len + int(r) * self.row_bytes)
                buf = f.read(self.row_bytes)
                if len(buf) != self.row_bytes:
                    raise DataError(f"{self.path}:{self.key} ended early at row {r}")
                out[i] = np.frombuffer(buf, dtype=self.dtype).reshape(self.shape[1:])
        return out

    def load(self) -> np.ndarray:
        """The whole array (for small members such as factor tables)."""
        with np.load(self.path, allow_pickle=False) as npz:
            return npz[self.key]
