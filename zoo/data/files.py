"""Finding, verifying and downloading benchmark data files.

A file is looked up, in order, in ``root`` (``<root>/<subdir>/<file>`` or ``<root>/<file>``), in
the directory named by the ``CIRCUITVAE_DATA`` environment variable
(``<CIRCUITVAE_DATA>/<subdir>/<file>``), in the user cache (``$XDG_CACHE_HOME/circuitvae`` or
``~/.cache/circuitvae``, same layout) and, for the four UCI datasets, in the copy embedded in the
package (``uci_files/<subdir>/<file>.xz``: the original files, xz-compressed; see
``uci_files/ATTRIBUTION.md`` for the CC BY 4.0 attribution), which is decompressed into the
cache, its sha256 checked, on first use. A file with a known sha256 is verified (size first, so a
truncated file is named as such). When a file is still missing and ``download=True`` the official
archive is downloaded with :mod:`urllib`, the member extracted (nested zips are followed), its
sha256 checked, and the file cached (delete the cached copy to fetch a fresh one). Everything
that goes wrong raises a :class:`~circuitvae.protocol.CircuitVAEError` subclass whose message
names the file and where to put it.
"""

from __future__ import annotations

import getpass
import hashlib
import io
import lzma
import os
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from circuitvae.protocol import CircuitVAEError

ENV_VAR = "CIRCUITVAE_DATA"
#: the embedded, xz-compressed original files: ``<EMBEDDED_DIR>/<subdir>/<file>.xz``
EMBEDDED_DIR = Path(__file__).resolve().parent / "uci_files"


class DataError(CircuitVAEError):
    """A benchmark data file is missing, corrupt or has an unexpected format."""


class MissingDataError(DataError, FileNotFoundError):
    """A data file was not found and could not be downloaded."""


class ChecksumError(DataError):
    """A data file has the wrong size or sha256 (truncated, modified or a different version)."""


@dataclass(frozen=True)
class DataFile:
    """One file a loader needs.

    ``subdir``/``filename``: where it lives under a data directory. ``sha256``/``size``: its
    identity (``None``: not verified). ``url``: the archive to download it from (``None``: no
    download). ``members``: the path inside the archive, one entry per nesting level (e.g.
    ``("bank.zip", "bank-full.csv")``); matched by base name, ``__MACOSX`` entries ignored.
    """

    subdir: str
    filename: str
    sha256: str | None = None
    size: int | None = None
    url: str | None = None
    members: tuple[str, ...] = ()


def cache_dir() -> Path:
    """The user cache: ``$XDG_CACHE_HOME/circuitvae``, else ``~/.cache/circuitvae``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "circuitvae"


def search_dirs(subdir: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched for files of ``subdir``, in order."""
    dirs: list[Path] = []
    if root is not None:
        dirs += [Path(root) / subdir, Path(root)]
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append(Path(env) / subdir)
    dirs.append(cache_dir() / subdir)
    return dirs


_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file (memoised per path, size and mtime within the process)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def verify_file(path: Path, spec: DataFile) -> None:
    """Check size and sha256 of ``path`` against ``spec``; raise :class:`ChecksumError` if off."""
    if spec.size is not None:
        size = path.stat().st_size
        if size != spec.size:
            what = "truncated" if size < spec.size else "larger than expected"
            raise ChecksumError(
                f"{path} is {what}: {size} bytes, expected {spec.size}. Replace it with the "
                f"original file (or delete it to download it again)."
            )
    if spec.sha256 is not None:
        got = sha256_file(path)
        if got != spec.sha256:
            raise ChecksumError(
                f"{path} has sha256 {got}, expected {spec.sha256}: it is not the original file "
                "(modified re-exports are common). Replace it with the original (or delete it to "
                "download it again), or pass verify=False to use it anyway."
            )


def download_url(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` (tests replace this function so that no network is used)."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:  # noqa: S310
        while block := response.read(1 << 20):
            out.write(block)


def _extract(archive: bytes, members: Sequence[str]) -> bytes:
    """The bytes of ``members`` (one name per nesting level) inside zip bytes ``archive``."""
    data = archive
    for member in members:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [
                n for n in zf.namelist()
                if Path(n).name == member and not n.startswith("__MACOSX")
            ]
            if not names:
                raise DataError(f"the archive has no member {member!r} (it has {zf.namelist()})")
            data = zf.read(names[0])
    return data


def _write_atomic(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def embedded_path(spec: DataFile) -> Path:
    """Where the package's compressed copy of ``spec`` would be."""
    return EMBEDDED_DIR / spec.subdir / f"{spec.filename}.xz"


def _from_embedded(spec: DataFile, verify: bool) -> Path | None:
    """The embedded copy of ``spec`` decompressed into the cache (a temporary folder when the
    cache is not writable), its sha256 checked; None when the package has no copy."""
    src = embedded_path(spec)
    if not src.is_file():
        return None
    try:
        data = lzma.decompress(src.read_bytes())
    except (OSError, lzma.LZMAError) as err:
        raise ChecksumError(f"the embedded copy {src} is corrupt ({err}); reinstall circuitvae "
                            f"or put the original {spec.filename} in a data directory") from err
    digest = hashlib.sha256(data).hexdigest()
    if verify and spec.sha256 is not None and digest != spec.sha256:
        raise ChecksumError(f"the embedded copy {src} decompresses to sha256 {digest}, expected "
                            f"{spec.sha256}; reinstall circuitvae or put the original "
                            f"{spec.filename} in a data directory")
    for base in (cache_dir(), Path(tempfile.gettempdir()) / f"circuitvae-{getpass.getuser()}"):
        dest = base / spec.subdir / spec.filename
        try:
            _write_atomic(data, dest)
            return dest
        except OSError:
            continue
    raise DataError(f"cannot write the decompressed {spec.filename} to {cache_dir()} or a "
                    "temporary folder; set XDG_CACHE_HOME to a writable folder")


def _missing_message(dataset: str, missing: Sequence[DataFile], root, reason: str) -> str:
    spec = missing[0]
    dirs = search_dirs(spec.subdir, root)
    names = ", ".join(repr(m.filename) for m in missing)
    return (
        f"{dataset}: data file(s) {names} not found. Searched: "
        + ", ".join(str(d) for d in dirs)
        + f". Put the original file(s) in one of those directories, e.g. "
        f"<dir>/{spec.subdir}/{spec.filename}, pass root=<dir>, or set {ENV_VAR}=<dir> "
        f"(layout <dir>/{spec.subdir}/{spec.filename}). {reason}"
    )


def fetch(
    dataset: str,
    specs: Sequence[DataFile],
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    verify: bool = True,
) -> list[tuple[Path, DataFile, str]]:
    """Locate (downloading if allowed) every file in ``specs``.

    Returns ``(path, spec, origin)`` per file, origin ``"local"``, ``"embedded"`` or
    ``"downloaded"``.
    """
    found: dict[int, tuple[Path, str]] = {}
    for i, spec in enumerate(specs):
        for d in search_dirs(spec.subdir, root):
            p = d / spec.filename
            if p.is_file():
                if verify:
                    verify_file(p, spec)
                found[i] = (p, "local")
                break
    for i, spec in enumerate(specs):
        if i not in found:
            embedded = _from_embedded(spec, verify)
            if embedded is not None:
                found[i] = (embedded, "embedded")
    missing = [i for i in range(len(specs)) if i not in found]
    if missing and not download:
        raise MissingDataError(
            _missing_message(dataset, [specs[i] for i in missing], root, "download=False, so "
                             "nothing was downloaded.")
        )
    by_url: dict[str | None, list[int]] = {}
    for i in missing:
        by_url.setdefault(specs[i].url, []).append(i)
    for url, idxs in by_url.items():
        wanted = [specs[i] for i in idxs]
        if url is None:
            raise MissingDataError(
                _missing_message(dataset, wanted, root, "It cannot be downloaded automatically.")
            )
        try:
            with tempfile.TemporaryDirectory() as tmp:
                archive = Path(tmp) / "archive.zip"
                download_url(url, archive)
                blob = archive.read_bytes()
            for i, spec in zip(idxs, wanted, strict=True):
                data = _extract(blob, spec.members or (spec.filename,))
                digest = hashlib.sha256(data).hexdigest()
                if verify and spec.sha256 is not None and digest != spec.sha256:
                    raise ChecksumError(
                        f"{spec.filename} extracted from {url} has sha256 {digest}, expected "
                        f"{spec.sha256}; the archive was changed upstream, not caching it."
                    )
                dest = cache_dir() / spec.subdir / spec.filename
                _write_atomic(data, dest)
                found[i] = (dest, "downloaded")
        except ChecksumError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            raise MissingDataError(
                _missing_message(dataset, wanted, root, f"Downloading {url} failed ({err}).")
            ) from err
    return [(found[i][0], spec, found[i][1]) for i, spec in enumerate(specs)]


def file_record(path: Path, spec: DataFile, origin: str, verify: bool) -> dict:
    """A provenance entry for one file: name, sha256, whether it was verified, origin."""
    return {
        "file": f"{spec.subdir}/{spec.filename}",
        "sha256": sha256_file(path),
        "verified": bool(verify and spec.sha256 is not None),
        "origin": origin,
    }


def find_image_file(dataset: str, filename: str, root, how: str) -> Path:
    """The first ``<dir>/<dataset>/<filename>`` in the search path, or a clear error."""
    dirs = search_dirs(dataset, root)
    for d in dirs:
        if (d / filename).exists():
            return d / filename
    raise MissingDataError(
        f"{dataset}: {filename} not found (searched {', '.join(map(str, dirs))}). {how} Put it "
        f"at <dir>/{dataset}/{filename} and pass root=<dir> or set CIRCUITVAE_DATA=<dir>."
    )
