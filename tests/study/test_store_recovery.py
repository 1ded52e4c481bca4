"""A study folder with bad row files: status reports them, run redoes them, report works."""

import dataclasses
import json

import pytest

from circuitvae.cli import main
from circuitvae.study import ResultStore, run_study, write_report


def _spoil(store, non_utf8, no_metrics):
    (store.rows_dir / f"{non_utf8}.json").write_bytes(b'{"run_id": "\xff"}')
    (store.rows_dir / f"{no_metrics}.json").write_text(json.dumps({"status": "ok"}))


def test_bad_rows_are_reported_redone_and_kept(tmp_path, study, tiny_grid, task, capsys):
    run_study(study, tiny_grid, tmp_path, progress=False)
    ids = [r.run_id for r in tiny_grid.runs()]
    store = ResultStore(tmp_path)
    _spoil(store, ids[0], ids[1])

    with pytest.warns(UserWarning, match="set aside"):
        assert main(["study", "status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok 2, failed 0, skipped 0, invalid 2, pending 2, total 4" in out
    assert f"invalid: rows/invalid/{ids[0]}.json." in out and "not UTF-8" in out
    assert f"invalid: rows/invalid/{ids[1]}.json." in out and "no 'run_id'" in out

    calls = []

    def counting(spec):
        calls.append(spec.run_id)
        return task(spec)

    s = run_study(dataclasses.replace(study, task=counting), tiny_grid, tmp_path,
                  progress=False)
    assert sorted(calls) == sorted(ids[:2]) and (s.ran, s.already_done) == (2, 2)
    assert store.counts() == {"ok": 4, "failed": 0, "skipped": 0, "invalid": 2, "pending": 0,
                              "total": 4}
    assert len(list(store.invalid_dir.iterdir())) == 4  # both files and their reasons, kept


def test_run_and_report_survive_bad_rows(tmp_path, study, tiny_grid):
    run_study(study, tiny_grid, tmp_path, progress=False)
    ids = [r.run_id for r in tiny_grid.runs()]
    store = ResultStore(tmp_path)
    _spoil(store, ids[2], ids[3])
    with pytest.warns(UserWarning, match="set aside"):
        report = write_report(tmp_path, study=study, figures=False)
    assert report.is_file() and "invalid 2" in report.read_text()
    s = run_study(study, tiny_grid, tmp_path, progress=False)
    assert s.ran == 2 and store.finished() == set(ids)
