"""The results store: one JSON file per run, written atomically.

Layout of a study folder::

    <out>/study.json              the grid spec (written by the runner)
    <out>/rows/<run_id>.json      one result row per run (status "ok", "failed" or "skipped")
    <out>/results.csv             all rows flattened, derived from rows/ (see :meth:`export`)
    <out>/report.md, figures/     the report (see :mod:`circuitvae.study.report`)

A row is written to a hidden temporary file in ``rows/`` and moved into place with
``os.replace``, which is atomic on POSIX and Windows: a reader sees either no file or a complete
one. Temporary files (``.*.tmp``) and unreadable files are ignored by the readers, so a study
killed at any moment resumes cleanly.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..protocol import CircuitVAEError
from .grid import GridSpec

STATUSES = ("ok", "failed", "skipped")

#: columns that identify a run (not metrics)
ID_COLUMNS: tuple[str, ...] = ("run_id", "study", "architecture", "dataset", "seed", "status")


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


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write ``path`` atomically: ``write(file)`` into a uniquely named temporary file in the
    same folder, fsync, then ``os.replace`` (a reader sees the old file or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file in the same folder + os.replace)."""
    _atomic_write(path, lambda f: json.dump(_clean(obj), f, indent=1, sort_keys=True))


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    _atomic_write(path, lambda f: f.write(text))


class ResultStore:
    """The rows of one study folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.rows_dir = self.root / "rows"

    # -- writing --------------------------------------------------------------------------
    def write_spec(self, grid: GridSpec) -> None:
        atomic_write_json(self.root / "study.json", grid.to_dict())

    def write_row(self, row: Mapping[str, Any]) -> Path:
        """Store one result row (must carry ``run_id`` and a known ``status``)."""
        rid = row.get("run_id")
        if not rid or "/" in str(rid):
            raise CircuitVAEError(f"a result row needs a plain 'run_id', got {rid!r}")
        if row.get("status") not in STATUSES:
            raise CircuitVAEError(f"row {rid}: status must be one of {STATUSES}, "
                                  f"got {row.get('status')!r}")
        path = self.rows_dir / f"{rid}.json"
        atomic_write_json(path, dict(row))
        return path

    # -- reading --------------------------------------------------------------------------
    def read_spec(self) -> GridSpec | None:
        p = self.root / "study.json"
        if not p.is_file():
            return None
        try:
            return GridSpec.from_dict(json.loads(p.read_text()))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, CircuitVAEError) as e:
            raise CircuitVAEError(f"{p} is unreadable ({type(e).__name__}: {e}); move it "
                                  "aside or use another folder") from e

    def read_rows(self) -> dict[str, dict[str, Any]]:
        """All complete rows, by run id. Temporary and unreadable files are skipped."""
        rows: dict[str, dict[str, Any]] = {}
        if not self.rows_dir.is_dir():
            return rows
        for p in sorted(self.rows_dir.glob("*.json")):
            if p.name.startswith("."):
                continue
            try:
                row = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError) as e:
                warnings.warn(f"ignoring unreadable result file {p.name}: {e}", stacklevel=2)
                continue
            if not isinstance(row, dict) or row.get("run_id") != p.stem:
                warnings.warn(f"ignoring result file {p.name}: run_id does not match",
                              stacklevel=2)
                continue
            rows[p.stem] = row
        return rows

    def finished(self, statuses: tuple[str, ...] = ("ok",)) -> set[str]:
        """Run ids whose stored row has one of ``statuses``."""
        return {rid for rid, r in self.read_rows().items() if r.get("status") in statuses}

    def counts(self, grid: GridSpec | None = None) -> dict[str, int]:
        """Number of runs per status; with a grid, also ``pending`` and ``total``."""
        rows = self.read_rows()
        grid = grid if grid is not None else self.read_spec()
        c = Counter(r.get("status", "?") for r in rows.values())
        out = {s: c.get(s, 0) for s in STATUSES}
        if grid is not None:
            ids = {r.run_id for r in grid.runs()}
            out["pending"] = len(ids - set(rows))
            out["total"] = len(ids)
        return out

    def frame(self) -> pd.DataFrame:
        """All rows as a flat DataFrame: identity columns, one column per metric, ``time_*``,
        error; nested entries (config, versions, provenance, warnings...) as JSON strings."""
        records = []
        for row in self.read_rows().values():
            rec = {k: v for k, v in row.items() if k not in ("metrics", "timing")}
            for k, v in rec.items():
                if isinstance(v, (dict, list)):
                    rec[k] = json.dumps(v, sort_keys=True)
            rec.update(row.get("metrics") or {})
            for k, v in (row.get("timing") or {}).items():
                rec[f"time_{k}"] = v
            records.append(rec)
        df = pd.DataFrame.from_records(records)
        if df.empty:
            return pd.DataFrame(columns=list(ID_COLUMNS))
        return df.sort_values("run_id").reset_index(drop=True)

    def export(self) -> Path:
        """Write ``results.csv`` (and ``results.parquet`` when pyarrow is present) from rows/."""
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
