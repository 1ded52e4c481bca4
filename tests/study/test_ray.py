"""The Ray executor against a real local Ray cluster (skipped only when ray is not installed).

A cluster on the loopback interface runs a small study; one Ray worker is killed (SIGKILL) in
the middle of its run; the study still completes with every run recorded exactly once. The CLI
then joins the same cluster through ``--executor ray --ray-address``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from circuitvae.study import ResultStore, run_study

ray = pytest.importorskip("ray")

from .conftest import fake_metrics  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", configure_logging=False)
    # tasks defined in this test module travel by value (the workers cannot import it)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(sys.modules[fake_metrics.__module__])
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


class KillableTask:
    """Each attempt appends its pid to ``attempts/<run_id>``; the first attempt of ``victim``
    announces itself in ``victim.pid`` and sleeps, so the test can kill its worker."""

    def __init__(self, folder: Path, victim: str) -> None:
        self.folder, self.victim = str(folder), victim

    def __call__(self, spec):
        attempts = Path(self.folder) / "attempts"
        attempts.mkdir(exist_ok=True)
        log = attempts / spec.run_id
        first = not log.exists()
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        if spec.run_id == self.victim and first:
            (Path(self.folder) / "victim.pid").write_text(str(os.getpid()))
            time.sleep(600)  # killed long before this ends
        return {"metrics": fake_metrics(spec), "config": {}, "provenance": {"ray": True}}


def test_a_killed_ray_worker_loses_no_run_and_repeats_none(tmp_path, study, tiny_grid,
                                                           cluster):
    import dataclasses

    victim = next(iter(tiny_grid.runs())).run_id
    task = KillableTask(tmp_path / "work", victim)
    (tmp_path / "work").mkdir()
    killed: list[int] = []
    done = threading.Event()

    def killer() -> None:  # waits as long as the study runs (Ray may start workers slowly)
        pid_file = tmp_path / "work" / "victim.pid"
        while not done.is_set():
            if pid_file.exists() and pid_file.read_text():
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.1)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        summary = run_study(dataclasses.replace(study, task=task), tiny_grid, tmp_path / "out",
                            executor="ray", ray_address=cluster, progress=False)
    finally:
        done.set()
        thread.join()
    assert killed, "the victim's worker never started"
    rows = ResultStore(tmp_path / "out").read_rows()
    assert sorted(rows) == sorted(r.run_id for r in tiny_grid.runs())
    assert all(r["status"] == "ok" for r in rows.values())
    assert (summary.ok, summary.failed) == (4, 0)
    attempts = {p.name: p.read_text().split() for p in (tmp_path / "work/attempts").iterdir()}
    assert len(attempts[victim]) == 2 and attempts[victim][0] == str(killed[0])  # retried
    assert all(len(v) == 1 for k, v in attempts.items() if k != victim)  # no run repeated


def test_the_cli_joins_a_running_cluster(tmp_path, cluster):
    out = tmp_path / "out"
    env = {**os.environ, "CIRCUITVAE_DATA": ""}
    done = subprocess.run(
        [sys.executable, "-m", "circuitvae.cli", "study", "run", "tabular", "--profile", "quick",
         "--architectures", "vae", "--datasets", "planted", "--seeds", "42,123",
         "--set", "epochs=1", "--executor", "ray", "--ray-address", cluster, "--out", str(out),
         "--quiet", "--no-report"],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = ResultStore(out).read_rows()
    assert sorted(rows) == ["vae__planted__123", "vae__planted__42"]
    assert all(r["status"] == "ok" for r in rows.values())
    assert json.loads((out / "study.json").read_text())["architectures"] == ["vae"]
