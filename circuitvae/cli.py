"""The ``circuitvae`` command line: ``circuitvae study run|status|report``.

Examples::

    circuitvae study run tabular --profile quick --out runs/tabular --workers 2
    circuitvae study status runs/tabular
    circuitvae study report runs/tabular
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .protocol import CircuitVAEError


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _setting(s: str) -> tuple[str, Any]:
    key, eq, value = s.partition("=")
    if not eq or not key:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got {s!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="circuitvae", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    study = sub.add_parser("study", help="run, inspect and report a study grid")
    ssub = study.add_subparsers(dest="action", required=True)

    r = ssub.add_parser("run", help="run (or resume) a study")
    r.add_argument("study", choices=["tabular", "image"])
    r.add_argument("--profile", default="quick", choices=["quick", "paper"])
    r.add_argument("--out", required=True, help="study folder (created; resumed if it exists)")
    r.add_argument("--workers", type=int, default=1, help="local worker processes (1: in-process)")
    r.add_argument("--executor", default="local", choices=["local", "ray"])
    r.add_argument("--ray-address", default=None, help="Ray cluster address (default: local)")
    r.add_argument("--task", default=None, help="run function as module:function "
                   "(default: circuitvae.study.tasks:train_and_analyze)")
    r.add_argument("--architectures", type=_csv, default=None, help="comma-separated subset")
    r.add_argument("--datasets", type=_csv, default=None, help="comma-separated subset")
    r.add_argument("--seeds", type=lambda s: [int(x) for x in _csv(s)], default=None)
    r.add_argument("--set", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                   help="override a profile setting (JSON value), e.g. --set epochs=2")
    r.add_argument("--no-retry-failed", action="store_true",
                   help="keep failed/skipped rows instead of re-running them")
    r.add_argument("--no-report", action="store_true", help="do not write the report")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    s = ssub.add_parser("status", help="count finished, failed, skipped and pending runs")
    s.add_argument("out")

    rep = ssub.add_parser("report", help="write report.md and figures for a study folder")
    rep.add_argument("out")
    rep.add_argument("--study", default=None, choices=["tabular", "image"])
    rep.add_argument("--no-figures", action="store_true")
    return p


def _run(a: argparse.Namespace) -> int:
    from .study import run_study, study_grid, subset, write_report

    grid = subset(study_grid(a.study, a.profile, **dict(a.set)), a.architectures, a.datasets,
                  a.seeds)
    summary = run_study(grid, a.out, task=a.task, workers=a.workers, executor=a.executor,
                        retry_failed=not a.no_retry_failed, progress=not a.quiet,
                        ray_address=a.ray_address)
    print(f"{summary.ran} run(s) done now ({summary.ok} ok, {summary.failed} failed, "
          f"{summary.skipped} skipped); {summary.already_done} already finished; "
          f"{summary.total} in the grid")
    if not a.no_report:
        print(f"report: {write_report(a.out)}")
    return 0 if summary.failed == 0 else 1


def _status(a: argparse.Namespace) -> int:
    from .study import ResultStore

    store = ResultStore(a.out)
    grid = store.read_spec()
    if grid is None and not store.rows_dir.is_dir():
        raise CircuitVAEError(f"{a.out} is not a study folder (no study.json, no rows/)")
    counts = store.counts(grid)
    head = f"study {grid.name} ({grid.profile})" if grid else "study (no study.json)"
    print(f"{head}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for rid, row in sorted(store.read_rows().items()):
        if row.get("status") != "ok":
            print(f"  {row.get('status')}: {rid}: {row.get('error')}")
    return 0


def _report(a: argparse.Namespace) -> int:
    from .study import write_report

    print(write_report(a.out, study=a.study, figures=not a.no_figures))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``circuitvae`` console script."""
    a = build_parser().parse_args(argv)
    try:
        return {"run": _run, "status": _status, "report": _report}[a.action](a)
    except CircuitVAEError as e:
        print(f"circuitvae: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
