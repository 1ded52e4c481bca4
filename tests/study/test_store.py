import json
import os
import stat
import time

import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import ResultStore, atomic_write_json
from circuitvae.study.store import ROW_SCHEMA, row_problems


def _row(rid, status="ok", **metrics):
    arch, ds, seed = rid.split("__")
    return {"run_id": rid, "study": "tabular", "architecture": arch, "dataset": ds,
            "seed": int(seed), "status": status, "metrics": metrics}


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


def test_temp_files_are_ignored_and_partial_files_set_aside(tmp_path):
    store = ResultStore(tmp_path)
    store.write_row(_row("vae__adult__1", ces_calibrated=0.5))
    # what a writer killed before os.replace leaves behind: a hidden temp file
    (store.rows_dir / ".vae__adult__2.json.abc.tmp").write_text('{"run_id": "vae__adul')
    # a torn file not written by the store
    (store.rows_dir / "vae__adult__3.json").write_text('{"run_id": "vae__adult__3", "sta')
    with pytest.warns(UserWarning, match="not JSON"):
        rows = store.read_rows()
    assert list(rows) == ["vae__adult__1"]
    assert (store.rows_dir / ".vae__adult__2.json.abc.tmp").exists()  # young: left alone here


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


def test_bad_rows_are_refused_on_write(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(CircuitVAEError, match="status"):
        store.write_row({"run_id": "a", "status": "done"})
    with pytest.raises(CircuitVAEError, match="run_id"):
        store.write_row({"status": "ok"})
    with pytest.raises(CircuitVAEError, match="no metrics"):
        store.write_row(_row("vae__adult__1"))
    with pytest.raises(CircuitVAEError, match="numbers or null: mse"):
        store.write_row(_row("vae__adult__1", mse="low"))
    with pytest.raises(CircuitVAEError, match="plain name"):
        store.write_row({**_row("vae__adult__1", mse=1.0), "run_id": "../x"})
    assert not store.rows_dir.exists() or not list(store.rows_dir.glob("*.json"))


def test_schema():
    assert set(ROW_SCHEMA) == {"run_id", "study", "architecture", "dataset", "seed", "status",
                               "metrics"}
    assert row_problems(_row("vae__adult__1", mse=None), "vae__adult__1") == []
    assert row_problems(_row("vae__adult__1", "skipped")) == []  # only ok rows need metrics
    assert row_problems({**_row("vae__adult__1", mse=1.0), "seed": True}) == [
        "'seed' must be int, got True"]
    assert row_problems([1]) == ["not a JSON object but list"]
    assert "does not match" in row_problems(_row("vae__adult__1", mse=1.0), "vae__adult__2")[0]


BAD_FILES = {
    "non_utf8": (b'{"run_id": "vae__adult__1", "study": "\xff\xfe"}', "not UTF-8"),
    "truncated": (b'{"run_id": "vae__adult__1", "status": "o', "not JSON"),
    "not_a_dict": (b'["vae__adult__1"]', "not a JSON object"),
    "ok_without_metrics": (b'{"status": "ok"}', "no 'run_id'"),
    "ok_with_empty_metrics": (json.dumps(_row("vae__adult__1")).encode(), "no metrics"),
    "wrong_run_id": (json.dumps(_row("vae__adult__2", mse=1.0)).encode(), "does not match"),
    # a hand-edited architecture: the report would group the run under "zzz"
    "fields_not_its_run_id": (json.dumps({**_row("vae__adult__1", mse=1.0),
                                          "architecture": "zzz"}).encode(),
                              "does not match its architecture, dataset and seed "
                              "('zzz__adult__1')"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_row_files_are_set_aside_counted_and_not_finished(tmp_path, case, tiny_grid):
    content, why = BAD_FILES[case]
    store = ResultStore(tmp_path)
    store.write_spec(tiny_grid)
    store.write_row(_row("vae__adult__42", mse=1.0))
    bad = store.rows_dir / "vae__adult__1.json"
    bad.write_bytes(content)
    with pytest.warns(UserWarning, match="set aside"):
        assert store.finished() == {"vae__adult__42"}
    assert not bad.exists()
    (kept,) = store.invalid_dir.glob("vae__adult__1.json.*[0-9]")
    assert kept.read_bytes() == content  # kept as it was, not deleted
    assert why in store.invalid()[kept.name]
    assert store.counts() == {"ok": 1, "failed": 0, "skipped": 0, "invalid": 1, "pending": 3,
                              "total": 4}
    assert list(store.frame()["run_id"]) == ["vae__adult__42"]


def test_bad_file_is_left_while_its_run_is_locked(tmp_path):
    store = ResultStore(tmp_path)
    store.rows_dir.mkdir(parents=True)
    bad = store.rows_dir / "vae__adult__1.json"
    bad.write_bytes(b"\xff")
    lock = store.take_lock("vae__adult__1")  # as a runner replacing it would hold it
    try:
        assert store.take_lock("vae__adult__1") is None
        assert store.read_rows() == {} and bad.exists() and store.invalid() == {}
        with pytest.warns(UserWarning, match="set aside"):
            assert store.read_row("vae__adult__1", locked=True) is None
        assert not bad.exists() and len(store.invalid()) == 1
    finally:
        lock.release()


def test_leftover_temporaries_are_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    store.rows_dir.mkdir(parents=True)
    old_row = store.rows_dir / ".vae__adult__1.json.k2j3.tmp"
    young_row = store.rows_dir / ".vae__adult__2.json.x9y8.tmp"
    locked_row = store.rows_dir / ".vae__adult__3.json.a1b2.tmp"
    old_csv = tmp_path / ".results.csv.q1w2.tmp"
    young_csv = tmp_path / ".results.csv.e3r4.tmp"
    for p in (old_row, young_row, locked_row, old_csv, young_csv):
        p.write_text("{")
    hour_ago = time.time() - 2 * 3600
    for p in (old_row, old_csv):
        os.utime(p, (hour_ago, hour_ago))
    lock = store.take_lock("vae__adult__3")  # its writer is alive
    try:
        removed = store.clean_temporaries()
    finally:
        lock.release()
    assert sorted(removed) == sorted([old_row, young_row, old_csv])
    assert locked_row.exists() and young_csv.exists()  # a writer may still be at work


def test_files_get_the_usual_mode(tmp_path):
    umask = os.umask(0o027)
    try:
        store = ResultStore(tmp_path)
        path = store.write_row(_row("vae__adult__1", mse=1.0))
        csv = store.export()
        (tmp_path / "plain").write_text("x")
    finally:
        os.umask(umask)
    expected = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert expected == 0o640
    assert stat.S_IMODE(path.stat().st_mode) == expected
    assert stat.S_IMODE(csv.stat().st_mode) == expected


@pytest.mark.parametrize("rid", ["..", ".hidden", "a\0b"])
def test_run_ids_that_would_hide_or_break_the_file_are_refused(tmp_path, rid):
    # a row file starting with "." is skipped like a temporary: it was written, never read
    store = ResultStore(tmp_path)
    with pytest.raises(CircuitVAEError, match="'run_id' must be a plain name"):
        store.write_row({**_row("vae__adult__1", mse=1.0), "run_id": rid})
    assert not store.rows_dir.exists() or not list(store.rows_dir.iterdir())


def test_a_run_id_with_a_path_is_refused_by_every_accessor(tmp_path, tiny_grid):
    store = ResultStore(tmp_path)
    store.write_spec(tiny_grid)
    store.rows_dir.mkdir()
    # rows/../study.json is study.json: it was read as a bad row and set aside into rows/invalid
    with pytest.raises(CircuitVAEError, match="run id must be a plain file name, got '../study'"):
        store.read_row("../study")
    with pytest.raises(CircuitVAEError, match="plain file name"):
        store.take_lock("../x")
    assert (tmp_path / "study.json").is_file() and store.invalid() == {}
    assert not (tmp_path / "x.lock").exists()


@pytest.mark.parametrize("row", [None, [1, 2], "vae__adult__1"])
def test_a_row_that_is_no_mapping_is_refused(tmp_path, row):
    with pytest.raises(CircuitVAEError, match="a result row must be a mapping, got"):
        ResultStore(tmp_path).write_row(row)


def test_non_finite_metrics_are_stored_as_null(tmp_path):
    store = ResultStore(tmp_path)
    store.write_row(_row("vae__adult__1", a=float("nan"), b=float("inf"), c=0.5))
    assert store.read_row("vae__adult__1")["metrics"] == {"a": None, "b": None, "c": 0.5}


@pytest.mark.parametrize("field, value", [("architecture", "beta_vae"), ("dataset", "bank"),
                                          ("seed", 7)])
def test_a_row_whose_fields_are_not_its_run_id_is_refused(tmp_path, field, value):
    store = ResultStore(tmp_path)
    with pytest.raises(CircuitVAEError, match="does not match its architecture, dataset and "
                                              "seed"):
        store.write_row({**_row("vae__adult__1", mse=1.0), field: value})


@pytest.mark.parametrize("rid", [".hidden", "a\\b", ""])
def test_accessors_and_the_row_schema_share_one_plain_name_rule(tmp_path, rid):
    store = ResultStore(tmp_path)
    with pytest.raises(CircuitVAEError, match="run id must be a plain file name"):
        store.row_path(rid)
    with pytest.raises(CircuitVAEError, match="run id must be a plain file name"):
        store.take_lock(rid)
    assert any("must be a plain name" in p for p in row_problems({**_row("vae__adult__1"),
                                                                   "run_id": rid}))
