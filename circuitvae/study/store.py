"""The results store: one JSON file per run, written atomically, checked on every read.

Layout of a study folder::

    <out>/study.json              the grid spec (written by the runner under <out>/.study.lock)
    <out>/rows/<run_id>.json      one result row per run (status "ok", "failed" or "skipped")
    <out>/rows/invalid/           rows set aside as unreadable or invalid (kept, with a .why)
    <out>/locks/<run_id>.lock     the per-run locks of the runners (see :meth:`ResultStore.lock`)
    <out>/results.csv             all rows flattened, derived from rows/ (see :meth:`export`)
    <out>/report.md, figures/     the report (see :mod:`circuitvae.study.report`)

What is guaranteed:

* Every file is written to a uniquely named hidden temporary file (``.<name>.<random>.tmp``) in
  its folder, fsynced, given mode ``0o666 & ~umask`` and moved into place with ``os.replace``
  (atomic on POSIX and Windows): a reader sees the old file or the new one, never a part.
* A row is checked against :data:`ROW_SCHEMA` when written (an invalid row is refused) and when
  read. A row file that cannot be read (not UTF-8, not JSON, not an object) or breaks the
  schema is moved aside to ``rows/invalid/<name>.<timestamp>`` with the reason in
  ``<that>.why``: it is kept, counted (``counts()["invalid"]``) and no longer finished, so the
  run is done again. A file is only moved aside while its run's lock is free (a runner that
  holds the lock may be replacing it).
* :meth:`ResultStore.clean_temporaries` removes the temporaries a killed writer left behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from ..protocol import CircuitVAEError
from .grid import GridSpec
from .grid import run_id as make_run_id

STATUSES = ("ok", "failed", "skipped")

#: columns that identify a run (not metrics)
ID_COLUMNS: tuple[str, ...] = ("run_id", "study", "architecture", "dataset", "seed", "status")

#: The row schema: the keys every row has and their types. Besides: ``run_id`` is the file's name
#: (without ``.json``) and ``<architecture>__<dataset>__<seed>`` of its own fields, holds no ``/``
#: and does not start with ``.``; ``seed`` is an int, not a
#: bool; ``status`` is one of :data:`STATUSES`; a row with status ``ok`` has a non-empty
#: ``metrics`` of numbers or nulls.
#: Other keys (settings, config, timing, error...) are free.
ROW_SCHEMA: dict[str, type] = {"run_id": str, "study": str, "architecture": str, "dataset": str,
                               "seed": int, "status": str, "metrics": dict}

#: temporaries younger than this are left alone unless their owner's lock is free
TMP_MAX_AGE_S = 3600.0


def row_problems(row: Any, run_id: str | None = None) -> list[str]:
    """What is wrong with ``row`` (a JSON-like value) under :data:`ROW_SCHEMA`; ``[]`` when
    it is a valid row (of the run ``run_id``, when given)."""
    if not isinstance(row, dict):
        return [f"not a JSON object but {type(row).__name__}"]
    problems = []
    for key, kind in ROW_SCHEMA.items():
        value = row.get(key)
        if key not in row:
            problems.append(f"no {key!r}")
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{key!r} must be {kind.__name__}, got {value!r}")
    rid = row.get("run_id")
    if isinstance(rid, str) and not _is_plain_name(rid):
        problems.append(f"'run_id' must be a plain name, got {rid!r}")
    elif run_id is not None and isinstance(rid, str) and rid != run_id:
        problems.append(f"'run_id' {rid!r} does not match the file name {run_id!r}")
    arch, dataset, seed = row.get("architecture"), row.get("dataset"), row.get("seed")
    if (isinstance(rid, str) and isinstance(arch, str) and isinstance(dataset, str)
            and isinstance(seed, int) and not isinstance(seed, bool)):
        expected = make_run_id(arch, dataset, seed)
        if rid != expected:
            problems.append(f"'run_id' {rid!r} does not match its architecture, dataset and "
                            f"seed ({expected!r})")
    if isinstance(row.get("status"), str) and row["status"] not in STATUSES:
        problems.append(f"'status' must be one of {STATUSES}, got {row['status']!r}")
    metrics = row.get("metrics")
    if row.get("status") == "ok" and isinstance(metrics, dict):
        if not metrics:
            problems.append("status 'ok' with no metrics")
        bad = sorted(k for k, v in metrics.items()
                     if v is not None and not isinstance(v, (int, float)))
        if bad:
            problems.append(f"metrics must be numbers or null: {', '.join(bad)}")
    return problems


def _is_plain_name(run_id: str) -> bool:
    """Whether ``run_id`` names a visible file inside its folder: non-empty, no path separator
    (``/`` or ``\\``), no NUL, and no leading ``.`` (a hidden file is skipped like the writers'
    temporaries)."""
    separators = any(c in run_id for c in "/\\\0")
    return bool(run_id) and not run_id.startswith(".") and not separators


def _check_run_id(run_id: Any) -> str:
    """``run_id`` when it is a plain name (:func:`_is_plain_name`); else a clear error."""
    if not isinstance(run_id, str) or not _is_plain_name(run_id):
        raise CircuitVAEError(f"run id must be a plain file name, got {run_id!r}")
    return run_id


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _file_mode() -> int:
    """``0o666`` masked by the process umask: the mode ``open()`` gives a new file."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write ``path`` atomically: ``write(file)`` into a uniquely named temporary file in the
    same folder, fsync, set the usual file mode, then ``os.replace`` (a reader sees the old file
    or the new one). The temporary is removed when anything fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file in the same folder + os.replace)."""
    _atomic_write(path, lambda f: json.dump(_clean(obj), f, indent=1, sort_keys=True))


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    _atomic_write(path, lambda f: f.write(text))


def _tmp_owner(name: str) -> str:
    """The file a temporary ``.<name>.<random>.tmp`` was to become."""
    return name[1:].removesuffix(".tmp").rsplit(".", 1)[0]


class ResultStore:
    """The rows of one study folder; safe to use from several processes at once."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.rows_dir = self.root / "rows"
        self.invalid_dir = self.rows_dir / "invalid"
        self.locks_dir = self.root / "locks"

    # -- locks ----------------------------------------------------------------------------
    def study_lock(self) -> FileLock:
        """The folder's lock (``.study.lock``), held while ``study.json`` is compared and
        written: ``with store.study_lock(): ...`` (blocks until it is free)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / ".study.lock")

    def take_lock(self, run_id: str, *, blocking: bool = False) -> FileLock | None:
        """Take the lock of one run (``locks/<run_id>.lock``) and return it, held; ``None``
        when another holder has it (``blocking``: wait until it is free). A runner holds it
        while it executes the run and writes its row; it is an OS lock (``flock``), freed when
        its process dies, so no lock outlives a killed runner. Release it with ``.release()``."""
        _check_run_id(run_id)
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.locks_dir / f"{run_id}.lock")
        try:
            lock.acquire(timeout=-1 if blocking else 0)
        except Timeout:
            return None
        return lock

    # -- writing --------------------------------------------------------------------------
    def write_spec(self, grid: GridSpec) -> None:
        atomic_write_json(self.root / "study.json", grid.to_dict())

    def write_row(self, row: Mapping[str, Any]) -> Path:
        """Store one result row atomically; a row that breaks :data:`ROW_SCHEMA` is refused.
        Outside a runner, hold the run's lock (:meth:`take_lock`) while writing."""
        if not isinstance(row, Mapping):
            raise CircuitVAEError(f"a result row must be a mapping, got {type(row).__name__}")
        clean = _clean(dict(row))
        problems = row_problems(clean)
        if problems:
            raise CircuitVAEError(f"row {row.get('run_id')!r} is not a valid result row: "
                                  + "; ".join(problems))
        path = self.row_path(clean["run_id"])
        atomic_write_json(path, clean)
        return path

    # -- reading --------------------------------------------------------------------------
    def read_spec(self) -> GridSpec | None:
        p = self.root / "study.json"
        if not p.exists():
            return None  # a folder or other non-file named study.json is unreadable below
        try:
            return GridSpec.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, CircuitVAEError) as e:
            raise CircuitVAEError(f"{p} is unreadable ({type(e).__name__}: {e}); move it "
                                  "aside or use another folder") from e

    def row_path(self, run_id: str) -> Path:
        """The file of ``run_id`` in ``rows/`` (a run id with a path separator is refused)."""
        return self.rows_dir / f"{_check_run_id(run_id)}.json"

    def read_row(self, run_id: str, *, locked: bool = False) -> dict[str, Any] | None:
        """The valid row of ``run_id``, or ``None``. An invalid file is set aside: at once when
        the caller holds the run's lock (``locked=True``), else only if the lock is free."""
        return self._read(self.row_path(run_id), locked)

    def read_rows(self) -> dict[str, dict[str, Any]]:
        """All valid rows, by run id. Temporaries are skipped; unreadable and invalid files are
        set aside (see the module's docstring) and not returned."""
        if not self.rows_dir.is_dir():
            return {}
        rows = {}
        for p in sorted(self.rows_dir.glob("*.json")):
            if not p.name.startswith(".") and (row := self._read(p, False)) is not None:
                rows[p.stem] = row
        return rows

    def invalid(self) -> dict[str, str]:
        """The files set aside in ``rows/invalid/`` (file name -> why), by name."""
        if not self.invalid_dir.is_dir():
            return {}
        out = {}
        for p in sorted(self.invalid_dir.iterdir()):
            if p.name.endswith(".why") or p.name.startswith("."):
                continue
            try:
                out[p.name] = p.with_name(p.name + ".why").read_text(errors="replace").strip()
            except OSError:
                out[p.name] = "(no reason recorded)"
        return out

    def finished(self, statuses: tuple[str, ...] = ("ok",)) -> set[str]:
        """Run ids whose stored (valid) row has one of ``statuses``."""
        return {rid for rid, r in self.read_rows().items() if r["status"] in statuses}

    def counts(self, grid: GridSpec | None = None) -> dict[str, int]:
        """Number of valid rows per status; ``invalid``: files set aside (only when there are
        any; delete ``rows/invalid/`` to clear it); with a grid (default: ``study.json``),
        ``pending`` (runs with no valid row) and ``total``."""
        rows = self.read_rows()
        grid = grid if grid is not None else self.read_spec()
        c = Counter(r["status"] for r in rows.values())
        out = {s: c.get(s, 0) for s in STATUSES}
        n_invalid = len(self.invalid())
        if n_invalid:
            out["invalid"] = n_invalid
        if grid is not None:
            ids = {r.run_id for r in grid.runs()}
            out["pending"] = len(ids - set(rows))
            out["total"] = len(ids)
        return out

    def _load(self, path: Path) -> tuple[dict[str, Any] | None, str | None]:
        """``(row, None)`` for a valid row, ``(None, why)`` for a bad file, ``(None, None)``
        when there is no file."""
        try:
            row = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            return None, None
        except OSError as e:
            return None, f"unreadable ({e})"
        except UnicodeDecodeError as e:
            return None, f"not UTF-8 ({e})"
        except json.JSONDecodeError as e:
            return None, f"not JSON, e.g. truncated ({e})"
        problems = row_problems(row, path.stem)
        return (None, "; ".join(problems)) if problems else (row, None)

    def _read(self, path: Path, locked: bool) -> dict[str, Any] | None:
        row, why = self._load(path)
        if why is None:
            return row
        try:
            if locked:
                self._set_aside(path, why)
                return None
            lock = self.take_lock(path.stem)
            if lock is None:
                return None  # its runner holds the lock and will replace the file
            try:
                row, why = self._load(path)  # again, under the lock
                if why is not None:
                    self._set_aside(path, why)
                return row
            finally:
                lock.release()
        except OSError as e:
            warnings.warn(f"ignoring result file {path.name} ({why}); it could not be set "
                          f"aside: {e}", stacklevel=3)
            return None

    def _set_aside(self, path: Path, why: str) -> None:
        """Move a bad row file to ``rows/invalid/<name>.<timestamp>``, the reason beside it."""
        self.invalid_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.strftime('%Y%m%dT%H%M%S')}.{time.time_ns() % 10**9:09d}"
        dest = self.invalid_dir / f"{path.name}.{stamp}"
        os.replace(path, dest)
        atomic_write_text(dest.with_name(dest.name + ".why"), why + "\n")
        warnings.warn(f"result file {path.name} is invalid ({why}); set aside to "
                      f"{dest.relative_to(self.root)}, its run will be done again", stacklevel=2)

    # -- housekeeping ---------------------------------------------------------------------
    def clean_temporaries(self, max_age_s: float = TMP_MAX_AGE_S) -> list[Path]:
        """Remove the temporaries (``.*.tmp*``) killed writers left in the folder, ``rows/``
        and ``figures/``: those older than ``max_age_s``, and in ``rows/`` also those whose
        run's lock is free (nobody is writing that row). Returns the files removed."""
        removed = []
        for folder in (self.root, self.rows_dir, self.root / "figures"):
            for p in sorted(folder.glob(".*.tmp*")) if folder.is_dir() else ():
                # gone already, not ours to remove, or no run's (an odd name)
                with contextlib.suppress(OSError, CircuitVAEError):
                    if time.time() - p.stat().st_mtime > max_age_s:
                        p.unlink()
                        removed.append(p)
                    elif folder == self.rows_dir:
                        lock = self.take_lock(_tmp_owner(p.name).removesuffix(".json"))
                        if lock is not None:
                            try:
                                p.unlink()
                                removed.append(p)
                            finally:
                                lock.release()
        return removed

    # -- exports --------------------------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """All rows as a flat DataFrame: identity columns, one column per metric, ``time_*``,
        error; nested entries (config, versions, provenance, warnings...) as JSON strings."""
        records = []
        for row in self.read_rows().values():
            timing = row.get("timing")
            rec = {k: v for k, v in row.items()
                   if k != "metrics" and not (k == "timing" and isinstance(timing, dict))}
            for k, v in rec.items():
                if isinstance(v, (dict, list)):
                    rec[k] = json.dumps(v, sort_keys=True)
            rec.update(row.get("metrics") or {})
            for k, v in (timing if isinstance(timing, dict) else {}).items():
                rec[f"time_{k}"] = v
            records.append(rec)
        df = pd.DataFrame.from_records(records)
        if df.empty:
            return pd.DataFrame(columns=list(ID_COLUMNS))
        return df.sort_values("run_id").reset_index(drop=True)

    def export(self) -> Path:
        """Write ``results.csv`` (and ``results.parquet`` when pyarrow is present) from rows/,
        each atomically through a uniquely named temporary (concurrent exports are safe: the
        last one wins, every one complete)."""
        df = self.frame()
        out = self.root / "results.csv"
        _atomic_write(out, lambda f: df.to_csv(f, index=False))
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            _atomic_write(self.root / "results.parquet",
                          lambda f: df.to_parquet(f, index=False), mode="wb")
        return out
