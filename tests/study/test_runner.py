import dataclasses
import subprocess
import sys
import textwrap

import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import ResultStore, SkipRun, execute_one, run_study


def with_task(study, task):
    return dataclasses.replace(study, task=task)


def test_runs_every_run_once_and_stores_rows(tmp_path, study, tiny_grid, metrics_of):
    s = run_study(study, tiny_grid, tmp_path, progress=False)
    assert (s.total, s.ran, s.ok, s.failed, s.already_done) == (4, 4, 4, 0, 0)
    rows = ResultStore(tmp_path).read_rows()
    assert sorted(rows) == sorted(r.run_id for r in tiny_grid.runs())
    spec = next(tiny_grid.runs())
    row = rows[spec.run_id]
    assert row["metrics"] == pytest.approx(metrics_of(spec))
    assert row["provenance"] == {"dataset": "adult", "fake": True}
    assert row["settings"]["n_train"] == 2000 and "torch" in row["versions"]
    import torch

    assert row["torch_threads"] == torch.get_num_threads()  # results depend on it
    assert row["timing"]["wall_s"] >= 0
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "study.json").is_file()


def test_failed_run_is_recorded_and_the_study_goes_on(tmp_path, study, tiny_grid, task):
    def flaky(spec):
        if spec.architecture == "beta_vae" and spec.seed == 42:
            raise RuntimeError("diverged")
        if spec.seed == 123 and spec.architecture == "vae":
            raise SkipRun("files of adult are absent")
        return task(spec)

    s = run_study(with_task(study, flaky), tiny_grid, tmp_path, progress=False)
    assert (s.ok, s.failed, s.skipped) == (2, 1, 1)
    rows = ResultStore(tmp_path).read_rows()
    bad = rows["beta_vae__adult__42"]
    assert bad["status"] == "failed" and bad["error"] == "RuntimeError: diverged"
    assert "diverged" in bad["traceback"] and bad["metrics"] == {}
    assert rows["vae__adult__123"]["status"] == "skipped"
    assert rows["vae__adult__123"]["error"] == "files of adult are absent"

    # re-running keeps failed rows with retry_failed=False, retries them by default
    calls = []

    def counting(spec):
        calls.append(spec.run_id)
        return task(spec)

    counting_study = with_task(study, counting)
    s2 = run_study(counting_study, tiny_grid, tmp_path, progress=False, retry_failed=False)
    assert calls == [] and s2.already_done == 4
    s3 = run_study(counting_study, tiny_grid, tmp_path, progress=False)
    assert sorted(calls) == ["beta_vae__adult__42", "vae__adult__123"] and s3.ok == 2
    assert ResultStore(tmp_path).counts() == {"ok": 4, "failed": 0, "skipped": 0,
                                              "pending": 0, "total": 4}


def test_interrupted_study_resumes_without_duplicates(tmp_path, study, tiny_grid, task):
    # the study is interrupted (Ctrl-C) during its third run
    n = []

    def interrupted(spec):
        n.append(spec.run_id)
        if len(n) == 3:
            raise KeyboardInterrupt
        return task(spec)

    with pytest.raises(KeyboardInterrupt):
        run_study(with_task(study, interrupted), tiny_grid, tmp_path, progress=False)
    store = ResultStore(tmp_path)
    assert sorted(store.read_rows()) == sorted(n[:2])
    calls = []

    def counting(spec):
        calls.append(spec.run_id)
        return task(spec)

    s = run_study(with_task(study, counting), tiny_grid, tmp_path, progress=False)
    assert s.already_done == 2
    assert sorted(calls) == sorted(set(tiny_grid_ids(tiny_grid)) - set(n[:2]))
    files = sorted(p.name for p in store.rows_dir.iterdir())
    assert files == sorted(f"{rid}.json" for rid in tiny_grid_ids(tiny_grid))


def test_killed_process_resumes_without_duplicates(tmp_path, study, tiny_grid):
    # a child process runs the study and dies hard (os._exit) during its third run
    script = textwrap.dedent(f"""
        import dataclasses, os
        from circuitvae.study import run_study
        from circuitvae.zoo.studies import TABULAR
        n = 0
        def dying(spec):
            global n
            n += 1
            if n == 3:
                os._exit(3)
            return {{"ces_calibrated": 1.0}}
        study = dataclasses.replace(TABULAR, task=dying, prepare=None)
        grid = study.grid("quick", architectures=("vae", "beta_vae"), datasets=("adult",),
                          seeds=(42, 123))
        run_study(study, grid, {str(tmp_path)!r}, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 3, proc.stderr.decode()
    store = ResultStore(tmp_path)
    assert len(store.read_rows()) == 2
    s = run_study(study, tiny_grid, tmp_path, progress=False)
    assert s.already_done == 2 and s.ran == 2
    files = sorted(p.name for p in store.rows_dir.iterdir())
    assert files == sorted(f"{rid}.json" for rid in tiny_grid_ids(tiny_grid))


def tiny_grid_ids(grid):
    return [r.run_id for r in grid.runs()]


def test_worker_processes(tmp_path, study, tiny_grid, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "cv_fake_task_mod.py").write_text(textwrap.dedent("""
        import torch
        def task(spec):
            return {"ces_calibrated": float(spec.seed), "threads": torch.get_num_threads()}
    """))
    monkeypatch.syspath_prepend(str(mod))
    import cv_fake_task_mod

    out = tmp_path / "study"
    s = run_study(with_task(study, cv_fake_task_mod.task), tiny_grid, out, workers=2,
                  progress=False)
    assert s.ok == 4
    rows = ResultStore(out).read_rows()
    assert {r["metrics"]["ces_calibrated"] for r in rows.values()} == {42.0, 123.0}
    import os

    assert all(r["metrics"]["threads"] == r["torch_threads"] == max(1, (os.cpu_count() or 1) // 2)
               for r in rows.values())


def test_bad_arguments(tmp_path, study, image_study, tiny_grid):
    with pytest.raises(CircuitVAEError, match="workers"):
        run_study(study, tiny_grid, tmp_path, workers=0)
    with pytest.raises(CircuitVAEError, match="executor"):
        run_study(study, tiny_grid, tmp_path, executor="slurm")
    with pytest.raises(CircuitVAEError, match="ray_address='auto' is only used with "
                                              "executor='ray'"):
        run_study(study, tiny_grid, tmp_path, ray_address="auto")
    with pytest.raises(CircuitVAEError,
                       match="unknown study 'audio'; known studies: anomaly, beta_ablation"):
        run_study("audio", tiny_grid, tmp_path)
    with pytest.raises(CircuitVAEError, match="not a grid of study 'image'"):
        run_study(image_study, tiny_grid, tmp_path)

    run_study(study, tiny_grid, tmp_path, progress=False)
    other = study.grid("quick", architectures=("vae",), datasets=("adult",), seeds=(42,),
                       epochs=2)
    with pytest.raises(CircuitVAEError, match="other settings .*epochs: 4 -> 2"):
        run_study(study, other, tmp_path, progress=False)


def test_ray_missing_is_a_clear_error(tmp_path, study, tiny_grid, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(CircuitVAEError, match=r"circuitvae\[ray\]"):
        run_study(study, tiny_grid, tmp_path, executor="ray", progress=False)


def test_execute_one_accepts_flat_metrics_and_keeps_warnings(tiny_grid):
    import warnings

    def noisy(spec):
        for _ in range(3):
            warnings.warn("few rows", UserWarning, stacklevel=1)
        return {"mse": 0.5}

    row = execute_one(next(tiny_grid.runs()), noisy)
    assert row["status"] == "ok" and row["metrics"] == {"mse": 0.5}
    assert row["warnings"] == ["UserWarning: few rows"]


def test_ray_executor_drives_ray_tasks(tmp_path, study, tiny_grid, monkeypatch):
    """The Ray path with a stand-in module that runs each remote call eagerly."""
    import types

    calls = {"init": 0, "remote": 0}

    class Ref:
        def __init__(self, value):
            self.value = value

    def remote(**opts):
        assert opts == {"num_cpus": 1}

        def deco(fn):
            def submit(*args):
                calls["remote"] += 1
                return Ref(fn(*args))
            return types.SimpleNamespace(remote=submit)
        return deco

    fake = types.SimpleNamespace(
        is_initialized=lambda: calls["init"] > 0,
        init=lambda address=None, ignore_reinit_error=True: calls.__setitem__("init", 1),
        remote=remote,
        wait=lambda refs, num_returns=1: (refs[:num_returns], refs[num_returns:]),
        get=lambda ref: ref.value,
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    s = run_study(study, tiny_grid, tmp_path, executor="ray", progress=False)
    assert (s.ok, calls["init"], calls["remote"]) == (4, 1, 4)
    assert len(ResultStore(tmp_path).read_rows()) == 4


def test_the_progress_bar_names_the_run_in_progress(tmp_path, study, tiny_grid, capsys):
    run_study(study, tiny_grid, tmp_path, progress=True)
    err = capsys.readouterr().err
    for spec in tiny_grid.runs():
        assert f"[{spec.run_id}]" in err


def test_refresh_reruns_rows_that_lack_a_new_metric_and_checks_the_old_ones(tmp_path, study,
                                                                            tiny_grid, task):
    run_study(study, tiny_grid, tmp_path, progress=False)

    def with_new_metric(spec):  # the task gained a metric; one old metric now differs
        out = dict(task(spec))
        metrics = {**out["metrics"], "new_metric": 1.0}
        if spec.seed == 123:
            metrics["mse"] += 0.5
        return {**out, "metrics": metrics}

    calls = []

    def counting(spec):
        calls.append(spec.run_id)
        return with_new_metric(spec)

    newer = with_task(study, counting)
    s = run_study(newer, tiny_grid, tmp_path, progress=False)  # without refresh: nothing runs
    assert calls == [] and s.already_done == 4
    s = run_study(newer, tiny_grid, tmp_path, progress=False, refresh=["new_metric"])
    assert s.ran == 4 and len(calls) == 4
    rows = ResultStore(tmp_path).read_rows()
    for rid, row in rows.items():
        check = row["refreshed"]
        assert row["metrics"]["new_metric"] == 1.0
        assert check["shared"] == len(row["metrics"]) - 1
        if rid.endswith("__123"):
            assert check["changed"] == ["mse"] and check["max_abs_diff"] == pytest.approx(0.5)
            assert check["identical"] == check["shared"] - 1
        else:
            assert check["changed"] == [] and check["identical"] == check["shared"]
            assert check["max_abs_diff"] == 0.0 and "torch" in check["previous_versions"]
    calls.clear()  # every row has the metric now: a second refresh runs nothing
    assert run_study(newer, tiny_grid, tmp_path, progress=False,
                     refresh=["new_metric"]).ran == 0 and calls == []


def test_a_failed_refresh_keeps_the_old_row_marked_and_is_tried_once(tmp_path, study,
                                                                     tiny_grid, task):
    run_study(study, tiny_grid, tmp_path, progress=False)
    before = ResultStore(tmp_path).read_rows()
    calls = []

    def broken(spec):
        calls.append(spec.run_id)
        raise RuntimeError("out of memory")

    with pytest.warns(UserWarning, match="its earlier row is kept"):
        s = run_study(with_task(study, broken), tiny_grid, tmp_path, progress=False,
                      refresh=["new_metric"])
    assert s.failed == 4 and len(calls) == 4
    after = ResultStore(tmp_path).read_rows()
    for rid, row in after.items():
        mark = row.pop("refresh_failed")
        assert mark["requested"] == ["new_metric"] and "out of memory" in mark["error"]
        assert row == before[rid]  # the finished row itself is untouched
    # kept with retry_failed=False; retried (once per call) otherwise
    calls.clear()
    assert run_study(with_task(study, broken), tiny_grid, tmp_path, progress=False,
                     refresh=["new_metric"], retry_failed=False).ran == 0 and calls == []
    with pytest.warns(UserWarning):
        run_study(with_task(study, broken), tiny_grid, tmp_path, progress=False,
                  refresh=["new_metric"])
    assert len(calls) == 4


def test_a_failed_refresh_rewrites_its_row(tmp_path, study, tiny_grid):
    """The marked row is written during the call, so another runner of the same sweep (whose
    call began earlier) sees a row newer than its start and leaves the run alone."""
    run_study(study, tiny_grid, tmp_path, progress=False)
    calls = []

    def broken(spec):
        calls.append(spec.run_id)
        raise RuntimeError("boom")

    import time as _time

    since = _time.time()
    with pytest.warns(UserWarning):
        run_study(with_task(study, broken), tiny_grid, tmp_path, progress=False,
                  refresh=["new_metric"])
    store = ResultStore(tmp_path)
    assert all(store.row_path(r.run_id).stat().st_mtime >= since for r in tiny_grid.runs())
    assert len(calls) == 4


def test_a_metric_only_some_runs_produce_refreshes_each_run_once(tmp_path, study, tiny_grid,
                                                                task):
    run_study(study, tiny_grid, tmp_path, progress=False)
    calls = []

    def vae_only(spec):  # e.g. a pixel metric only image runs have
        calls.append(spec.run_id)
        out = dict(task(spec))
        if spec.architecture == "vae":
            out["metrics"] = {**out["metrics"], "vae_metric": 2.0}
        return out

    s = run_study(with_task(study, vae_only), tiny_grid, tmp_path, progress=False,
                  refresh=["vae_metric"])
    assert s.ok == 4 and len(calls) == 4
    rows = ResultStore(tmp_path).read_rows()
    assert {rid for rid, r in rows.items() if "vae_metric" in r["metrics"]} == {
        "vae__adult__42", "vae__adult__123"}
    assert all(r["refreshed"]["requested"] == ["vae_metric"] for r in rows.values())
    calls.clear()  # the beta_vae runs cannot produce it: they are not re-run for it again
    assert run_study(with_task(study, vae_only), tiny_grid, tmp_path, progress=False,
                     refresh=["vae_metric"]).ran == 0 and calls == []


def test_a_metric_no_run_produces_is_an_error_after_the_sweep(tmp_path, study, tiny_grid):
    run_study(study, tiny_grid, tmp_path, progress=False)
    before = ResultStore(tmp_path).read_rows()
    with pytest.raises(CircuitVAEError, match=r"refresh names \['new_metirc'\], which none "
                                              r"of the 4 ok run\(s\)"):
        run_study(study, tiny_grid, tmp_path, progress=False, refresh=["new_metirc"])
    after = ResultStore(tmp_path).read_rows()
    for rid, row in after.items():  # the same runs: every old metric reproduced exactly
        check = row.pop("refreshed")
        assert check["changed"] == [] and check["dropped"] == []
        assert row["metrics"] == before[rid]["metrics"]
    assert (tmp_path / "results.csv").is_file()


def test_a_subset_run_widens_the_folder_grid_and_never_shrinks_it(tmp_path, study):
    full = study.grid("quick", architectures=("vae", "beta_vae"), datasets=("adult",),
                      seeds=(42, 123))
    run_study(study, full, tmp_path, progress=False)
    part = study.grid("quick", architectures=("vae",), datasets=("adult",), seeds=(456,))
    run_study(study, part, tmp_path, progress=False)
    spec = ResultStore(tmp_path).read_spec()
    assert spec.architectures == ("vae", "beta_vae") and spec.seeds == (42, 123, 456)
    assert ResultStore(tmp_path).counts()["total"] == 6


def test_row_messages_carry_no_machine_paths(tmp_path, study, tiny_grid, monkeypatch):
    from pathlib import Path

    data = tmp_path / "data"
    monkeypatch.setenv("CIRCUITVAE_DATA", str(data))

    def missing(spec):
        raise SkipRun(f"put adult.data in one of: {data}/adult, {Path.home()}/.cache/x")

    run_study(with_task(study, missing), tiny_grid, tmp_path / "s", progress=False)
    row = next(iter(ResultStore(tmp_path / "s").read_rows().values()))
    assert row["error"] == "put adult.data in one of: $CIRCUITVAE_DATA/adult, ~/.cache/x"
