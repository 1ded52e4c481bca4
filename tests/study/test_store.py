import json
import os

import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import ResultStore, atomic_write_json


def _row(rid, status="ok", **metrics):
    arch, ds, seed = rid.split("__")
    return {"run_id": rid, "architecture": arch, "dataset": ds, "seed": int(seed),
            "status": status, "metrics": metrics}


def test_write_and_read_rows(tmp_path):
    store = ResultStore(tmp_path)
    store.write_row(_row("vae__adult__1", ces_calibrated=0.5))
    store.write_row(_row("vae__adult__2", "failed"))
    store.write_row(_row("vae__adult__1", ces_calibrated=0.25))  # overwrite, not duplicate
    rows = store.read_rows()
    assert sorted(rows) == ["vae__adult__1", "vae__adult__2"]
    assert rows["vae__adult__1"]["metrics"]["ces_calibrated"] == 0.25
    assert store.finished() == {"vae__adult__1"}
    df = store.frame()
    assert list(df["run_id"]) == ["vae__adult__1", "vae__adult__2"]
    assert df.loc[0, "ces_calibrated"] == 0.25
    assert store.counts() == {"ok": 1, "failed": 1, "skipped": 0}
    assert (tmp_path / "results.csv") == store.export()


def test_temp_and_partial_files_are_ignored(tmp_path):
    store = ResultStore(tmp_path)
    store.write_row(_row("vae__adult__1", ces_calibrated=0.5))
    # what a writer killed before os.replace leaves behind: a hidden temp file
    (store.rows_dir / ".vae__adult__2.json.abc.tmp").write_text('{"run_id": "vae__adul')
    # a torn file not written by the store
    (store.rows_dir / "vae__adult__3.json").write_text('{"run_id": "vae__adult__3", "sta')
    with pytest.warns(UserWarning, match="unreadable"):
        rows = store.read_rows()
    assert list(rows) == ["vae__adult__1"]


def test_writer_dying_before_replace_leaves_no_file(tmp_path, monkeypatch):
    def die(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(tmp_path / "rows" / "a.json", {"x": 1})
    monkeypatch.undo()
    assert list((tmp_path / "rows").iterdir()) == []


def test_json_is_clean(tmp_path):
    import numpy as np

    atomic_write_json(tmp_path / "a.json", {"a": np.float32(0.5), "b": float("nan"),
                                            "c": (1, np.int64(2))})
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": 0.5, "b": None, "c": [1, 2]}


def test_bad_rows(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(CircuitVAEError, match="status"):
        store.write_row({"run_id": "a", "status": "done"})
    with pytest.raises(CircuitVAEError, match="run_id"):
        store.write_row({"status": "ok"})
