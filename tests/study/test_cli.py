import json

from circuitvae.cli import main
from circuitvae.study import ResultStore


def _row(rid, status, error=None):
    arch, ds, seed = rid.split("__")
    return {"run_id": rid, "architecture": arch, "dataset": ds, "seed": int(seed),
            "status": status, "error": error, "metrics": {}}


def test_status_prints_counts(tmp_path, tiny_grid, capsys):
    store = ResultStore(tmp_path)
    store.write_spec(tiny_grid)
    store.write_row(_row("vae__adult__42", "ok"))
    store.write_row(_row("vae__adult__123", "failed", "RuntimeError: boom"))
    assert main(["study", "status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok 1, failed 1, skipped 0, pending 2, total 4" in out
    assert "failed: vae__adult__123: RuntimeError: boom" in out


def test_status_of_a_non_study_is_an_error(tmp_path, capsys):
    assert main(["study", "status", str(tmp_path / "nothing")]) == 2
    assert "not a study folder" in capsys.readouterr().err


def test_run_and_report(tmp_path, monkeypatch, capsys):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "cv_cli_task_mod.py").write_text(
        "def task(spec):\n    return {'ces_calibrated': spec.seed / 1000, 'mse': 1.0}\n")
    monkeypatch.syspath_prepend(str(mods))
    out = tmp_path / "study"
    rc = main(["study", "run", "tabular", "--out", str(out), "--architectures", "vae,beta_vae",
               "--datasets", "adult", "--seeds", "1,2", "--set", "epochs=1", "--quiet",
               "--task", "cv_cli_task_mod:task"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "4 run(s) done now (4 ok, 0 failed, 0 skipped)" in text
    assert (out / "report.md").is_file()
    spec = json.loads((out / "study.json").read_text())
    assert spec["settings"]["epochs"] == 1 and spec["seeds"] == [1, 2]
    assert main(["study", "report", str(out), "--no-figures"]) == 0
    assert "report.md" in capsys.readouterr().out
