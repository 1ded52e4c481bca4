"""Several runners on one study folder: every run done exactly once, settings fixed once."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest

from circuitvae.study import ResultStore, run_study

ARCHS, DATASETS, SEEDS = ("vae", "beta_vae", "factor_vae"), ("adult", "german_credit"), (42, 123,
                                                                                          456)

TASK_MODULE = """
import os, time

def task(spec):
    time.sleep(0.1)
    with open(os.environ["CV_RUN_LOG"], "a") as f:
        f.write(spec.run_id + "\\n")
    return {"mse": float(spec.seed)}
"""

RUNNER = """
import dataclasses, json, os, sys, time
from circuitvae.protocol import CircuitVAEError
from circuitvae.study import run_study
from circuitvae.zoo.studies import TABULAR
import cv_concurrent_task

me, epochs = sys.argv[1], int(sys.argv[2])
study = dataclasses.replace(TABULAR, task=cv_concurrent_task.task, prepare=None)
grid = study.grid("quick", architectures={archs!r}, datasets={datasets!r}, seeds={seeds!r},
                  epochs=epochs)
open(os.path.join({tmp!r}, "ready." + me), "w").close()
while not os.path.exists(os.path.join({tmp!r}, "go")):  # start together
    time.sleep(0.005)
try:
    s = run_study(study, grid, {out!r}, progress=False)
except CircuitVAEError as e:
    print(e)
    sys.exit(5)
print(json.dumps({{"ran": s.ran, "already_done": s.already_done, "by_other": s.by_other}}))
"""


def _start_together(tmp_path, epochs_of_each):
    """Start one runner process per entry (its epochs setting) and release them at once."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "cv_concurrent_task.py").write_text(TASK_MODULE)
    script = textwrap.dedent(RUNNER).format(archs=ARCHS, datasets=DATASETS, seeds=SEEDS,
                                            tmp=str(tmp_path), out=str(tmp_path / "study"))
    env = {**os.environ, "CV_RUN_LOG": str(tmp_path / "runs.log"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "mods"),
                                          os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i), str(e)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, e in enumerate(epochs_of_each)]
    deadline = time.time() + 240
    while not all((tmp_path / f"ready.{i}").exists() for i in range(len(procs))):
        assert time.time() < deadline and all(p.poll() is None for p in procs), \
            [p.communicate() for p in procs]
        time.sleep(0.02)
    (tmp_path / "go").touch()
    return [(p.wait(timeout=240), *p.communicate()) for p in procs]


def test_two_processes_share_the_grid_and_do_every_run_once(tmp_path):
    results = _start_together(tmp_path, [4, 4])
    assert [rc for rc, _, _ in results] == [0, 0], results
    summaries = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in results]
    ids = sorted(f"{a}__{d}__{s}" for a in ARCHS for d in DATASETS for s in SEEDS)
    log = (tmp_path / "runs.log").read_text().split()
    assert sorted(log) == ids, Counter(log).most_common(3)  # each run exactly once
    assert sum(s["ran"] for s in summaries) == len(ids)
    assert all(s["ran"] + s["already_done"] == len(ids) for s in summaries)
    store = ResultStore(tmp_path / "study")
    assert store.finished() == set(ids) and store.invalid() == {}
    assert not list(store.rows_dir.glob(".*"))  # no temporaries left


def test_two_processes_with_other_settings_on_a_new_folder_one_is_refused(tmp_path):
    results = _start_together(tmp_path, [4, 2])
    assert sorted(rc for rc, _, _ in results) == [0, 5], results
    refused = next(out for rc, out, _ in results if rc == 5)
    assert "other settings" in refused
    accepted = 4 if results[0][0] == 0 else 2
    spec = json.loads((tmp_path / "study" / "study.json").read_text())
    assert spec["settings"]["epochs"] == accepted


def _hold(store, rid, row=None, seconds=0.5):
    """Another runner: holds ``rid``'s lock a while, writes ``row`` (or dies without one)."""
    held = threading.Event()

    def other():
        lock = store.take_lock(rid)
        held.set()
        time.sleep(seconds)
        if row is not None:
            store.write_row(row)
        lock.release()

    t = threading.Thread(target=other)
    t.start()
    held.wait()
    return t


@pytest.mark.parametrize("other_writes_its_row", [True, False])
def test_a_run_locked_by_another_runner_is_left_to_it_then_waited_for(
        tmp_path, study, tiny_grid, task, other_writes_its_row):
    store = ResultStore(tmp_path)
    spec = next(tiny_grid.runs())
    row = {"run_id": spec.run_id, "study": spec.study, "architecture": spec.architecture,
           "dataset": spec.dataset, "seed": spec.seed, "status": "ok", "metrics": {"mse": 9.0}}
    calls = []

    def counting(s):
        calls.append(s.run_id)
        return task(s)

    other = _hold(store, spec.run_id, row if other_writes_its_row else None)
    import dataclasses

    s = run_study(dataclasses.replace(study, task=counting), tiny_grid, tmp_path,
                  progress=False)
    other.join()
    assert calls[:3] == [r.run_id for r in tiny_grid.runs()][1:]  # the held run is left
    if other_writes_its_row:
        assert (s.ran, s.by_other, s.already_done) == (3, 1, 1) and len(calls) == 3
        assert store.read_row(spec.run_id)["metrics"] == {"mse": 9.0}
    else:  # its runner died without a row: this one does it once the lock is free
        assert (s.ran, s.by_other, s.already_done) == (4, 0, 0) and calls[3] == spec.run_id
    assert store.finished() == {r.run_id for r in tiny_grid.runs()}
