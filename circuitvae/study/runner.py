"""Run a study grid: each run in a local worker process (default) or on a Ray cluster.

Every run is independent and seeded. The study's task (``task(spec: RunSpec) -> Mapping``)
trains and analyses one model; :func:`execute_one` wraps it into a result row with its config,
versions, timing and status, catching any exception so one failed run never stops the others.
The parent process writes each row atomically into the :class:`ResultStore` as soon as it
arrives, so a killed study resumes where it stopped: finished runs (status ``ok``) are skipped;
failed and skipped runs are retried unless ``retry_failed=False``.
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
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocol import CircuitVAEError
from .grid import GridSpec, RunSpec
from .store import ResultStore
from .study import SkipRun, Study, Task, get_study


@dataclass(frozen=True)
class StudySummary:
    """What one call of :func:`run_study` did."""

    total: int
    already_done: int
    ran: int
    ok: int
    failed: int
    skipped: int
    out: Path


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("circuitvae", "torch", "numpy", "scipy", "sklearn", "pandas"):
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except Exception:  # noqa: BLE001 - a missing package is just not recorded
            pass
    return out


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
    except SkipRun as e:
        row.update(status="skipped", error=str(e), metrics={})
    except Exception as e:  # noqa: BLE001 - recorded in the row, the study goes on
        row.update(status="failed", error=f"{type(e).__name__}: {e}",
                   traceback=traceback.format_exc(), metrics={})
    # warnings are kept in the row (unique messages) instead of flooding the progress output
    row["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})[:50]
    row["timing"] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                     "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return row


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
) -> StudySummary:
    """Run every run of ``grid`` (from ``study.grid(...)``) not yet finished in ``out``
    with the study's task; return what was done.

    ``study`` is a :class:`Study` or the name of one (:func:`get_study`). ``workers=1`` runs in
    this process; ``workers>1`` uses a ``ProcessPoolExecutor`` with the spawn context, each
    worker limited to ``max(1, cores // workers)`` torch threads; ``executor="ray"`` submits
    each run as a Ray task (needs the ``ray`` extra; connects to ``ray_address`` or starts a
    local Ray). With workers > 1 or Ray the task must be importable by name (a module-level
    function of an importable module). The study's ``prepare(grid)`` runs before the first run.
    """
    study = get_study(study)
    if grid.name != study.name:
        raise CircuitVAEError(f"grid {grid.name!r} is not a grid of study {study.name!r}")
    if workers < 1:
        raise CircuitVAEError(f"workers must be >= 1, got {workers}")
    if executor not in ("local", "ray"):
        raise CircuitVAEError(f"executor must be 'local' or 'ray', got {executor!r}")
    store = ResultStore(out)
    old = store.read_spec()
    if old is not None and old.name != grid.name:
        raise CircuitVAEError(f"{out} holds study {old.name!r}, not {grid.name!r}")
    if old is not None and old.settings_dict() != grid.settings_dict():
        raise CircuitVAEError(
            f"{out} holds runs made with other settings ({old.profile}: "
            f"{_changed(old.settings_dict(), grid.settings_dict())}); use another output "
            f"folder for these settings"
        )
    store.write_spec(grid)
    if study.prepare is not None:
        study.prepare(grid)  # e.g. check every data file before the first run
    task = study.task
    keep = ("ok",) if retry_failed else ("ok", "failed", "skipped")
    done = store.finished(keep)
    runs = list(grid.runs())
    todo = [r for r in runs if r.run_id not in done]
    counts = {"ok": 0, "failed": 0, "skipped": 0}

    def record(row: Mapping[str, Any], bar: Any) -> None:
        store.write_row(row)
        counts[row["status"]] += 1
        bar.update(1)
        bar.set_postfix(ok=counts["ok"], failed=counts["failed"], skipped=counts["skipped"])

    with _progress(len(todo), f"study {grid.name}", progress) as bar:
        if not todo:
            pass
        elif executor == "ray":
            _run_ray(todo, task, record, bar, ray_address)
        elif workers == 1:
            for spec in todo:
                record(execute_one(spec, task), bar)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            ctx = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                       initargs=(threads,))
            try:
                futures = [pool.submit(execute_one, spec, task) for spec in todo]
                for fut in as_completed(futures):
                    record(fut.result(), bar)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    store.export()
    return StudySummary(len(runs), len(runs) - len(todo), len(todo), counts["ok"],
                        counts["failed"], counts["skipped"], Path(out))


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The settings that differ, as ``key: stored -> asked`` (JSON values)."""
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {json.dumps(old.get(k))} -> {json.dumps(new.get(k))}" for k in keys
             if old.get(k) != new.get(k)]
    return "; ".join(diffs)


def _run_ray(todo: list[RunSpec], task: Task, record: Callable[..., None],
             bar: Any, address: str | None) -> None:
    try:
        import ray
    except ImportError as e:
        raise CircuitVAEError(
            "executor='ray' needs Ray: pip install 'circuitvae[ray]'"
        ) from e
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True)
    remote = ray.remote(num_cpus=1)(execute_one)
    pending = {remote.remote(spec, task): spec for spec in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            pending.pop(ref)
            record(ray.get(ref), bar)

