"""Run a study grid: each run in a local worker process (default) or on a Ray cluster.

Every run is independent and seeded. The study's task (``task(spec: RunSpec) -> Mapping``)
trains and analyses one model; :func:`execute_one` wraps it into a result row with its config,
versions, timing and status, catching any exception so one failed run never stops the others.
The parent process writes each row atomically into the :class:`ResultStore` as soon as it
arrives, so a killed study resumes where it stopped: finished runs (status ``ok``) are skipped;
failed and skipped runs are retried unless ``retry_failed=False``.

Several processes may run one grid on one folder at once (``circuitvae study run`` started
twice, or on several machines sharing a filesystem whose ``flock`` works): each run is executed
by one of them only, under its lock ``<out>/locks/<run_id>.lock``, taken before the run starts
and released once its row is written; see :func:`run_study`.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocol import CircuitVAEError
from .grid import GridSpec, RunSpec
from .store import ResultStore, _clean, row_problems
from .study import SkipRun, Study, Task, get_study


@dataclass(frozen=True)
class StudySummary:
    """What one call of :func:`run_study` did: ``ran`` runs executed here (``ok`` + ``failed`` +
    ``skipped``), ``already_done`` = ``total`` - ``ran`` runs finished before or, ``by_other`` of
    them, by another runner during this call."""

    total: int
    already_done: int
    ran: int
    ok: int
    failed: int
    skipped: int
    out: Path
    by_other: int = 0


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("circuitvae", "torch", "numpy", "scipy", "sklearn", "pandas"):
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except Exception:  # noqa: BLE001 - a missing package is just not recorded
            pass
    return out


def _torch_threads() -> int | None:
    """torch's intra-op thread count in this process (it changes the last bits of results)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    return int(torch.get_num_threads())


def execute_one(spec: RunSpec, task: Task) -> dict[str, Any]:
    """Run one task and return its result row (never raises for an ``Exception`` in the task).

    A task returns either ``{"metrics": {...}, "config": {...}, "provenance": {...}}`` or a flat
    mapping of metric values. Warnings raised during the task are stored in ``row["warnings"]``
    (unique messages) rather than printed.
    """
    row: dict[str, Any] = {
        "run_id": spec.run_id,
        "study": spec.study,
        "architecture": spec.architecture,
        "dataset": spec.dataset,
        "seed": spec.seed,
        "settings": spec.to_dict()["settings"],
        "versions": _versions(),
        "torch_threads": _torch_threads(),
        "error": None,
        "traceback": None,
    }
    t0, c0 = time.perf_counter(), time.process_time()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = dict(task(spec))
        if "metrics" in result:
            row["metrics"] = dict(result.pop("metrics"))
            row.update({k: v for k, v in result.items() if k not in row or k == "error"})
        else:
            row["metrics"] = result
        row["status"] = "ok"
        problems = row_problems(_clean(row))
        if problems:  # e.g. no metrics, or a metric that is no number
            row.update(status="failed", error="the task's result is not a valid row: "
                       + "; ".join(problems))
    except SkipRun as e:
        row.update(status="skipped", error=str(e), metrics={})
    except Exception as e:  # noqa: BLE001 - recorded in the row, the study goes on
        row.update(status="failed", error=f"{type(e).__name__}: {e}",
                   traceback=traceback.format_exc(), metrics={})
    # warnings are kept in the row (unique messages) instead of flooding the progress output
    row["warnings"] = sorted({portable(f"{w.category.__name__}: {w.message}")
                              for w in caught})[:50]
    for key in ("error", "traceback"):
        if row[key]:
            row[key] = portable(row[key])
    row["timing"] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                     "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return row


def portable(text: str) -> str:
    """``text`` with this machine's data folder and home directory written as
    ``$CIRCUITVAE_DATA`` and ``~``: rows are published, and a message such as "put the file
    in <dir>" should not carry the path of the machine that wrote it."""
    data = os.environ.get("CIRCUITVAE_DATA")
    if data:
        for form in dict.fromkeys((str(Path(data).expanduser().resolve()), data.rstrip("/"))):
            if len(form) > 1:
                text = text.replace(form, "$CIRCUITVAE_DATA")
    home = str(Path.home())
    if len(home) > 1:
        text = text.replace(home, "~")
    return text


def _init_worker(threads: int) -> None:
    """Limit torch's intra-op threads in a worker so workers do not oversubscribe the CPU."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="run", disable=not enabled)


def run_study(
    study: Study | str,
    grid: GridSpec,
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    executor: str = "local",
    retry_failed: bool = True,
    progress: bool = True,
    ray_address: str | None = None,
    refresh: Sequence[str] = (),
) -> StudySummary:
    """Run every run of ``grid`` (from ``study.grid(...)``) not yet finished in ``out``
    with the study's task; return what was done.

    ``study`` is a :class:`Study` or the name of one (:func:`get_study`). ``workers=1`` runs in
    this process; ``workers>1`` uses a ``ProcessPoolExecutor`` with the spawn context, each
    worker limited to ``max(1, cores // workers)`` torch threads; ``executor="ray"`` submits
    each run as a Ray task (needs the ``ray`` extra; connects to ``ray_address`` or starts a
    local Ray). With workers > 1 or Ray the task must be importable by name (a module-level
    function of an importable module). The study's ``prepare(grid)`` runs before the first run.

    Several runners on one folder: ``study.json`` is compared and written under
    ``<out>/.study.lock``, so the folder keeps the settings of its first grid and a grid with
    other settings is refused, even when both start at once. This process starts a run only
    while it holds the run's lock (taken without waiting, just before the run is submitted: at
    most ``workers`` runs, or the Ray cluster's CPUs, are locked at a time) and only when no
    finished row, nor one written since this call began, exists; it writes the row, then frees
    the lock. Runs locked by another runner are left to it and waited for at the end: counted
    in ``by_other`` once their row appears (even a failed one: a run is tried once per sweep),
    run here when their runner died without writing one. No run is done twice, none is lost.
    Leftover temporaries are removed first (:meth:`ResultStore.clean_temporaries`).

    ``refresh``: metric names added to the task after some rows were written. An ``ok`` row
    without one of them is run again, once: the new row replaces it only when it is ``ok``
    too, and records in ``refreshed`` the names asked for and how many of the old row's
    metrics it reproduces exactly (:func:`refresh_check`: the evidence that the run is the
    same run, bit for bit with the same code and torch thread count). A failed refresh keeps
    the old row, marked ``refresh_failed``, and counts as failed (retried by a later call
    unless ``retry_failed=False``). A name that no ok run of the call produced raises
    :class:`CircuitVAEError` once the sweep is done (a misspelt name).
    """
    study = get_study(study)
    if grid.name != study.name:
        raise CircuitVAEError(f"grid {grid.name!r} is not a grid of study {study.name!r}")
    if workers < 1:
        raise CircuitVAEError(f"workers must be >= 1, got {workers}")
    if executor not in ("local", "ray"):
        raise CircuitVAEError(f"executor must be 'local' or 'ray', got {executor!r}")
    if ray_address is not None and executor != "ray":
        raise CircuitVAEError(f"ray_address={ray_address!r} is only used with executor='ray'")
    if not os.fspath(out):
        raise CircuitVAEError("out is empty; name the study folder (it is created)")
    if Path(out).exists() and not Path(out).is_dir():
        raise CircuitVAEError(f"out {os.fspath(out)!r} is a file, not a study folder")
    store = ResultStore(out)
    _fix_spec(store, grid)
    since = time.time()
    store.clean_temporaries()
    if study.prepare is not None:
        study.prepare(grid)  # e.g. check every data file before the first run
    keep = ("ok",) if retry_failed else ("ok", "failed", "skipped")
    refresh = tuple(refresh)

    def finished(row: Mapping[str, Any]) -> bool:
        if row["status"] not in keep:
            return False
        if row["status"] != "ok" or all(m in row["metrics"] for m in refresh):
            return True
        # refreshed already for these names (a run that cannot produce one is not re-run
        # again), or a failed refresh kept as such
        marks = [row.get("refreshed")] + ([row.get("refresh_failed")] if not retry_failed
                                          else [])
        return any(set(refresh) <= set((m or {}).get("requested", ())) for m in marks)

    done = {rid for rid, row in store.read_rows().items() if finished(row)}
    runs = list(grid.runs())
    todo = [r for r in runs if r.run_id not in done]
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    busy: list[RunSpec] = []
    by_other = 0
    produced: set[str] = set()  # the refresh names some run of this call produced
    claimed: dict[str, Any] = {}  # run id -> its row as read under the lock (None: none yet)

    with _progress(len(todo), f"study {grid.name}", progress) as bar:

        def claim(spec: RunSpec, blocking: bool) -> Any:
            """The run's lock, held, when this process is to run it; else None."""
            nonlocal by_other
            lock = store.take_lock(spec.run_id, blocking=blocking)
            if lock is None:
                busy.append(spec)
                return None
            row = store.read_row(spec.run_id, locked=True)
            if row is not None and (finished(row)
                                    or store.row_path(spec.run_id).stat().st_mtime >= since):
                lock.release()  # another runner did it meanwhile
                by_other += 1
                bar.update(1)
                return None
            claimed[spec.run_id] = row
            return lock

        def record(row: Mapping[str, Any]) -> None:
            old = claimed.pop(row["run_id"], None) if refresh else None
            if old is not None and old["status"] == "ok":
                if row["status"] == "ok":
                    check = {**refresh_check(old, row), "requested": list(refresh)}
                    store.write_row({**row, "refreshed": check})
                else:  # a refresh never loses a finished run: the old row stays, marked
                    failure = {"requested": list(refresh), "status": row["status"],
                               "error": row.get("error"),
                               "finished_at": row["timing"]["finished_at"]}
                    old.pop("refreshed", None)
                    store.write_row({**old, "refresh_failed": failure})
                    warnings.warn(f"refresh of {row['run_id']} {row['status']} "
                                  f"({row.get('error')}); its earlier row is kept",
                                  stacklevel=2)
            else:
                store.write_row(row)
            counts[row["status"]] += 1
            if row["status"] == "ok":
                produced.update(m for m in refresh if m in row["metrics"])
            bar.update(1)
            bar.set_postfix(ok=counts["ok"], failed=counts["failed"],
                            skipped=counts["skipped"])

        if todo:
            backend = (_Ray(study.task, workers, ray_address) if executor == "ray"
                       else _Pool(study.task, workers) if workers > 1
                       else _InProcess(study.task))
            def show(ids: list[str]) -> None:  # the progress bar names the runs in progress
                bar.set_description(f"study {grid.name}" + (f" [{', '.join(ids)}]" if ids
                                                             else ""))

            try:
                _drive(todo, lambda spec: claim(spec, False), backend, record, show)
                waiting, busy[:] = list(busy), []
                if waiting:
                    bar.set_description(f"study {grid.name} (waiting for other runners)")
                _drive(waiting, lambda spec: claim(spec, True), backend, record, show)
            finally:
                backend.close()
    store.export()
    never = [m for m in refresh if m not in produced]
    if counts["ok"] and never:  # e.g. a misspelt name: say so instead of re-running forever
        raise CircuitVAEError(f"refresh names {never}, which none of the {counts['ok']} ok "
                              "run(s) of this call produces; their rows are marked refreshed "
                              "for it and are not re-run for it again")
    ran = sum(counts.values())
    return StudySummary(len(runs), len(runs) - ran, ran, counts["ok"], counts["failed"],
                        counts["skipped"], Path(out), by_other)


def refresh_check(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """How a re-run row compares with the row it replaces, over the old row's metrics:
    ``shared`` (metrics in both), ``identical`` (equal values; NaN is stored as None, so two
    missing values are equal), ``changed`` (the names that differ), ``dropped`` (old metrics
    the new row lacks), ``max_abs_diff`` over the changed metrics that are numbers in both
    rows (0 when none), and the old row's ``previous_finished_at``,
    ``previous_torch_threads`` and ``previous_versions``."""
    a, b = _clean(dict(old.get("metrics") or {})), _clean(dict(new.get("metrics") or {}))
    shared = [k for k in a if k in b]
    changed = [k for k in shared if a[k] != b[k]]
    numeric = [abs(float(a[k]) - float(b[k])) for k in changed
               if isinstance(a[k], int | float) and isinstance(b[k], int | float)]
    return {"shared": len(shared), "identical": len(shared) - len(changed),
            "changed": sorted(changed), "dropped": sorted(k for k in a if k not in b),
            "max_abs_diff": max(numeric, default=0.0),
            "previous_finished_at": (old.get("timing") or {}).get("finished_at"),
            "previous_torch_threads": old.get("torch_threads"),
            "previous_versions": old.get("versions")}


def _fix_spec(store: ResultStore, grid: GridSpec) -> None:
    """Under the folder's lock: refuse a folder of another study or with other settings;
    write ``study.json`` when it is absent, or widen it to the union of its grid and
    ``grid`` (so a run of a subset leaves the folder's grid, its status and report whole)."""
    with store.study_lock():
        old = store.read_spec()
        if old is not None and old.name != grid.name:
            raise CircuitVAEError(f"{store.root} holds study {old.name!r}, not {grid.name!r}")
        if old is not None and old.settings_dict() != grid.settings_dict():
            raise CircuitVAEError(
                f"{store.root} holds runs made with other settings ({old.profile}: "
                f"{_changed(old.settings_dict(), grid.settings_dict())}); use another output "
                f"folder for these settings"
            )
        if old is not None:  # a subset run never shrinks the folder's grid
            grid = old.union(grid)
        if old is None or old.to_dict() != grid.to_dict():
            store.write_spec(grid)


def _drive(specs: list[RunSpec], claim: Callable[[RunSpec], Any], backend: Any,
           record: Callable[[Mapping[str, Any]], None],
           show: Callable[[list[str]], None] = lambda ids: None) -> None:
    """Run ``specs`` on ``backend``, at most ``backend.window`` at a time, each only when
    ``claim(spec)`` gives its lock; the lock is released once its row is recorded (or on any
    error). ``show`` is told the run ids in flight whenever they change."""
    queue = list(specs)
    inflight: dict[Any, Any] = {}  # handle -> the run's lock
    names: dict[Any, str] = {}  # handle -> run id
    try:
        while queue or inflight:
            while queue and len(inflight) < backend.window:
                spec = queue.pop(0)
                lock = claim(spec)
                if lock is None:
                    continue
                show([*names.values(), spec.run_id])
                try:
                    handle = backend.submit(spec)
                except BaseException:
                    lock.release()
                    raise
                inflight[handle], names[handle] = lock, spec.run_id
            for handle in backend.ready(list(inflight)) if inflight else ():
                lock = inflight.pop(handle)
                names.pop(handle, None)
                try:
                    record(backend.result(handle))
                finally:
                    lock.release()
                show(list(names.values()))
    finally:
        if inflight:  # interrupted: stop (or wait for) the runs in flight before their locks
            backend.close()  # go, so no other runner starts a run still executing here
        for lock in inflight.values():
            lock.release()


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The settings that differ, as ``key: stored -> asked`` (JSON values)."""
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {json.dumps(old.get(k))} -> {json.dumps(new.get(k))}" for k in keys
             if old.get(k) != new.get(k)]
    return "; ".join(diffs)


# The executors: submit(spec) -> handle; ready(handles) -> the finished ones (at least one);
# result(handle) -> the row; window: how many runs may be in flight; close().


class _Finished:
    """A run done at submission (the in-process executor)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row


class _InProcess:
    window = 1

    def __init__(self, task: Task) -> None:
        self.task = task

    def submit(self, spec: RunSpec) -> _Finished:
        return _Finished(execute_one(spec, self.task))

    def ready(self, handles: list[_Finished]) -> list[_Finished]:
        return handles

    def result(self, handle: _Finished) -> dict[str, Any]:
        return handle.row

    def close(self) -> None:
        pass


class _Pool(_InProcess):
    def __init__(self, task: Task, workers: int) -> None:
        self.task, self.window = task, workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(threads,))

    def submit(self, spec: RunSpec) -> Any:
        return self.pool.submit(execute_one, spec, self.task)

    def ready(self, handles: list[Any]) -> list[Any]:
        return list(wait(handles, return_when=FIRST_COMPLETED).done)

    def result(self, handle: Any) -> dict[str, Any]:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Ray(_InProcess):
    def __init__(self, task: Task, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError as e:
            raise CircuitVAEError(
                "executor='ray' needs Ray: pip install 'circuitvae[ray]'"
            ) from e
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True)
        self.ray, self.task = ray, task
        self.remote = ray.remote(num_cpus=1)(execute_one)
        cpus = getattr(ray, "cluster_resources", dict)().get("CPU", 1)
        self.window = max(workers, int(cpus))  # runs in flight (and locks held) at once

    def submit(self, spec: RunSpec) -> Any:
        return self.remote.remote(spec, self.task)

    def ready(self, handles: list[Any]) -> list[Any]:
        return self.ray.wait(handles, num_returns=1)[0]

    def result(self, handle: Any) -> dict[str, Any]:
        return self.ray.get(handle)
