"""The ``circuitvae`` command line: ``circuitvae study list|run|status|report`` and
``circuitvae analyze``.

Examples::

    circuitvae analyze runs/my_model --dataset adult --n 500
    circuitvae study list
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

from ._version import __version__
from .protocol import CircuitVAEError


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _seeds(s: str) -> list[int]:
    try:
        return [int(x) for x in _csv(s)]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--seeds expects comma-separated integers, got {s!r}"
                                         ) from e


def _folder(s: str) -> str:
    if not s.strip():
        raise argparse.ArgumentTypeError("expects a folder path, got an empty string")
    return s


def _at_least(low: int) -> Any:
    def parse(s: str) -> int:
        try:
            value = int(s)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expects an integer >= {low}, got {s!r}")
        return value

    return parse


def _setting(s: str) -> tuple[str, Any]:
    key, eq, value = s.partition("=")
    if not eq or not key:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got {s!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    summary = " ".join(__doc__.split("\n\n")[0].split())  # the docstring's first paragraph
    p = argparse.ArgumentParser(prog="circuitvae", description=summary, formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"circuitvae {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    study = sub.add_parser("study", help="run, inspect and report a study grid",
                           formatter_class=fmt)
    ssub = study.add_subparsers(dest="action", required=True)

    ssub.add_parser("list", help="the studies, their profiles, grids and settings",
                    formatter_class=fmt)

    an = sub.add_parser("analyze", help="every metric of one saved model (circuitvae.analyze)",
                        formatter_class=fmt)
    an.add_argument("checkpoint", help="a saved model folder (e.g. circuitvae.zoo.save)")
    an.add_argument("--dataset", required=True, help="dataset name (e.g. adult, dsprites)")
    an.add_argument("--n", type=_at_least(1), default=1000, help="test rows analysed")
    an.add_argument("--seed", type=_at_least(0), default=0,
                    help="seed of the row sample and the metrics")
    an.add_argument("--metrics", default="all",
                    help="'all', 'interventional', or comma-separated columns / steps")
    an.add_argument("--out", default=None, help="also write the row here (.csv or .json)")

    r = ssub.add_parser("run", help="run (or resume) a study", formatter_class=fmt)
    r.add_argument("study", help="study name (see 'circuitvae study list')")
    r.add_argument("--profile", default=None,
                   help="settings profile of the study (default: the study's, e.g. quick)")
    r.add_argument("--out", type=_folder, required=True,
                   help="study folder (created; resumed if it exists)")
    r.add_argument("--workers", type=int, default=1, help="local worker processes (1: in-process)")
    r.add_argument("--executor", default="local", choices=["local", "ray"],
                   help="where runs execute")
    r.add_argument("--ray-address", default=None, help="Ray cluster address (default: local)")
    r.add_argument("--architectures", type=_csv, default=None,
                   help="comma-separated subset of the study's architectures (default: all)")
    r.add_argument("--datasets", type=_csv, default=None,
                   help="comma-separated subset of the study's datasets (default: all)")
    r.add_argument("--seeds", type=_seeds, default=None,
                   help="comma-separated subset of the study's seeds (default: all)")
    r.add_argument("--set", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                   help="override a profile setting (JSON value), e.g. --set epochs=2")
    r.add_argument("--device", default=None,
                   help="shorthand for --set device=DEVICE (e.g. cuda), for studies with a "
                        "device setting")
    r.add_argument("--no-retry-failed", action="store_true",
                   help="keep failed/skipped rows instead of re-running them")
    r.add_argument("--refresh", type=_csv, default=(), metavar="METRIC[,METRIC]",
                   help="re-run ok rows that lack one of these metrics (added to the study "
                        "after they ran); each new row records how many old metrics it "
                        "reproduces exactly")
    r.add_argument("--no-report", action="store_true", help="do not write the report")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    s = ssub.add_parser("status", help="count finished, failed, skipped and pending runs",
                        formatter_class=fmt)
    s.add_argument("out", type=_folder, help="study folder")

    rep = ssub.add_parser("report", help="write report.md and figures for a study folder",
                          formatter_class=fmt)
    rep.add_argument("out", type=_folder, help="study folder")
    rep.add_argument("--study", default=None,
                     help="judge this study's findings (default: the folder's study)")
    rep.add_argument("--no-figures", action="store_true", help="write no figures")
    return p


def _list(a: argparse.Namespace) -> int:
    import dataclasses

    from .study import available_studies, get_study

    names = available_studies()
    if not names:
        print("no studies installed")
    for name in names:
        st = get_study(name)
        n = len(st.architectures) * len(st.datasets) * len(st.seeds)
        print(f"{name}: {st.title}")
        print(f"  architectures: {', '.join(st.architectures)}")
        print(f"  datasets: {', '.join(st.datasets)}"
              + (f" (also: {', '.join(st.extra_datasets)})" if st.extra_datasets else ""))
        print(f"  seeds: {', '.join(map(str, st.seeds))}; {n} runs")
        print(f"  profiles: {', '.join(st.profiles)} (default {st.default_profile})")
        print(f"  settings: {', '.join(f.name for f in dataclasses.fields(st.settings_type))}")
    return 0


def _run(a: argparse.Namespace) -> int:
    from .study import get_study, run_study, write_report

    study = get_study(a.study)
    # every name and setting is checked here, before a single run starts
    overrides = dict(a.set)
    if a.device is not None:
        overrides["device"] = a.device
    grid = study.grid(a.profile, architectures=a.architectures, datasets=a.datasets,
                      seeds=a.seeds, **overrides)
    summary = run_study(study, grid, a.out, workers=a.workers, executor=a.executor,
                        retry_failed=not a.no_retry_failed, progress=not a.quiet,
                        ray_address=a.ray_address, refresh=a.refresh)
    print(f"{summary.ran} run(s) done now ({summary.ok} ok, {summary.failed} failed, "
          f"{summary.skipped} skipped); {summary.already_done} already finished; "
          f"{summary.total} in the grid")
    if not a.no_report:
        print(f"report: {write_report(a.out, study=study)}")
    return 0 if summary.failed == 0 else 1


def _status(a: argparse.Namespace) -> int:
    from .study import ResultStore

    store = ResultStore(a.out)
    grid = store.read_spec()
    if grid is None and not store.rows_dir.is_dir():
        raise CircuitVAEError(f"{a.out} is not a study folder (no study.json, no rows/)")
    counts = store.counts(grid)  # sets aside unreadable or invalid row files first
    head = f"study {grid.name} ({grid.profile})" if grid else "study (no study.json)"
    print(f"{head}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for rid, row in sorted(store.read_rows().items()):
        if row["status"] != "ok":
            print(f"  {row['status']}: {rid}: {row.get('error')}")
    for name, why in store.invalid().items():
        print(f"  invalid: rows/invalid/{name}: {why} (set aside and kept)")
    return 0


def _report(a: argparse.Namespace) -> int:
    from .study import write_report

    print(write_report(a.out, study=a.study, figures=not a.no_figures))
    return 0


def _plugins(group: str) -> list[Any]:
    import importlib.metadata

    return sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)


def _load_checkpoint(path: str) -> Any:
    """The model in ``path``, read by the first installed checkpoint reader that can."""
    from pathlib import Path

    if not path.strip():
        raise CircuitVAEError("checkpoint is empty; name a saved model folder")
    if not Path(path).exists():
        raise CircuitVAEError(f"checkpoint {path} does not exist")
    problems = []
    for ep in _plugins("circuitvae.checkpoints"):
        try:
            return ep.load()(path)
        except CircuitVAEError as err:
            problems.append(f"{ep.name}: {err}")
    raise CircuitVAEError(f"no installed reader can load {path}: " + ("; ".join(problems)
                                                                      or "none installed"))


def _load_dataset(name: str, seed: int) -> Any:
    problems = []
    for ep in _plugins("circuitvae.datasets"):
        try:
            return ep.load()(name, seed=seed)
        except CircuitVAEError as err:
            problems.append(f"{ep.name}: {err}")
    raise CircuitVAEError(f"no installed dataset source knows {name!r}: "
                          + ("; ".join(problems) or "none installed"))


def _analyze(a: argparse.Namespace) -> int:
    from pathlib import Path

    from .metrics.analyze import analyze

    out = Path(a.out) if a.out else None
    if out is not None:  # checked before the analysis, which may take long
        if out.suffix.lower() not in (".csv", ".json"):
            raise CircuitVAEError(f"--out {a.out} must end in .csv or .json")
        if out.is_dir():
            raise CircuitVAEError(f"--out {a.out} is a folder; name a .csv or .json file")
        if not out.parent.is_dir():
            raise CircuitVAEError(f"--out {a.out}: its folder {out.parent} does not exist")
    model = _load_checkpoint(a.checkpoint)
    data = _load_dataset(a.dataset, a.seed)
    metrics = [m.strip() for m in a.metrics.split(",") if m.strip()] or ["all"]
    row = analyze(model, data, n=a.n, seed=a.seed, metrics=metrics)
    if out is not None:
        if out.suffix.lower() == ".json":
            out.write_text(row.iloc[0].to_json(indent=1))
        else:
            row.to_csv(out, index=False)
    with_values = row.iloc[0].dropna()
    width = max(len(str(k)) for k in with_values.index)
    for key, value in with_values.items():
        print(f"{key:>{width}}  {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``circuitvae`` console script."""
    a = build_parser().parse_args(argv)
    if a.command == "analyze":
        a.action = "analyze"
    actions = {"list": _list, "run": _run, "status": _status, "report": _report,
               "analyze": _analyze}
    try:
        return actions[a.action](a)
    except (CircuitVAEError, OSError) as e:  # OSError: e.g. a folder we may not write
        print(f"circuitvae: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("circuitvae: interrupted (a study run resumes where it stopped when started "
              "again)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
