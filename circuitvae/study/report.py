"""The study report: markdown with our numbers beside the papers' headline numbers, plus figures.

:func:`write_report` reads a study folder (see :mod:`circuitvae.study.store`), computes the
statistics (:mod:`circuitvae.stats`) over the study's report metrics, judges the study's findings
(:mod:`circuitvae.study.findings`), writes ``report.md`` and PNG figures under ``figures/``
(drawn by :func:`circuitvae.plot.study_figures`; matplotlib is the ``plot`` extra), and lists
failed and skipped runs with their reasons. It renders on partial results: what cannot be
computed is said, never silently dropped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ..protocol import CircuitVAEError
from .findings import Finding, evaluate
from .store import ResultStore, atomic_write_text
from .study import Study, get_study


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            v = "nan" if not np.isfinite(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _metric_columns(rows: pd.DataFrame, declared: Sequence[str]) -> tuple[list[str], list[str]]:
    """(declared metric columns with values, declared metric columns without any)."""
    have, missing = [], []
    for c in dict.fromkeys(declared):
        if c in rows.columns and pd.to_numeric(rows[c], errors="coerce").notna().any():
            have.append(c)
        else:
            missing.append(c)
    return have, missing


def write_report(out: str | os.PathLike[str], *, study: Study | str | None = None,
                 figures: bool = True, seed: int = 0) -> Path:
    """Write ``report.md`` (and figures) for the study folder ``out``; return its path.

    ``study`` (a :class:`Study` or its name) decides the findings judged and the metrics
    summarised; by default, the study named in the folder's ``study.json``.
    """
    store = ResultStore(out)
    if not store.root.is_dir():
        raise CircuitVAEError(f"{out} is not a study folder (it does not exist)")
    grid = store.read_spec()
    if study is None:
        if grid is None:
            raise CircuitVAEError(f"{out} has no study.json; name the study (--study NAME)")
        study = grid.name
    study = get_study(study)
    store.export()
    allrows = store.frame()
    ok = allrows[allrows["status"] == "ok"].copy() if len(allrows) else allrows
    metrics, missing = _metric_columns(ok, study.report.metrics)
    for m in metrics:
        ok[m] = pd.to_numeric(ok[m], errors="coerce")
    pairs = stats.pairwise_table(ok, metrics) if len(ok) else pd.DataFrame(
        columns=stats.PAIRWISE_COLUMNS)
    found: list[Finding] = evaluate(study.findings, ok, pairs, study.name)
    counts = store.counts(grid)

    md = [f"# Study report: {study.name}", "", study.title, ""]
    if grid is not None:
        md += [f"Grid: {len(grid.architectures)} architectures x {len(grid.datasets)} datasets x "
               f"{len(grid.seeds)} seeds = {len(grid)} runs; profile `{grid.profile}`; "
               f"settings `{grid.settings_dict()}`.", ""]
    md += ["Runs: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".", ""]

    md += ["## Findings: paper vs ours", "",
           "Each finding is judged by the rule in its row (direction and, where the design "
           "allows, significance at alpha = 0.05); see docs/study.md.", ""]
    md.append(_table(["finding", "paper", "ours", "verdict", "rule"],
                     [[f.claim, f.paper, f.ours, f"**{f.status}**", f.rule] for f in found]))
    n_rep = sum(f.status == "reproduced" for f in found)
    n_nc = sum(f.status == "not computable" for f in found)
    md += ["", f"{n_rep} of {len(found)} findings reproduced; {n_nc} not computable.", ""]

    md += ["## What could not be computed", ""]
    lines = [f"- metric `{c}`: no values in any finished run" for c in missing]
    lines += [f"- finding '{f.claim}': {f.ours.removeprefix('not computable: ')}"
              for f in found if f.status == "not computable"]
    md += (lines or ["Everything was computed."]) + [""]

    md += ["## Means per architecture (95% bootstrap CI over runs)", ""]
    summ = stats.summary_ci(ok, metrics, ("architecture",), seed=seed) if len(ok) else None
    if summ is None or summ.empty:
        md += ["No finished runs.", ""]
    else:
        archs = sorted(summ["architecture"].unique())
        body = []
        for m in metrics:
            s = summ[summ["metric"] == m].set_index("architecture")
            body.append([m] + [f"{s.at[a, 'mean']:.4g} [{s.at[a, 'low']:.3g}, "
                               f"{s.at[a, 'high']:.3g}]" if a in s.index else "" for a in archs])
        md += [_table(["metric", *archs], body), ""]

    md += ["## Significant pairwise differences (Wilcoxon signed-rank over (dataset, seed), "
           "Holm-Sidak per metric)", ""]
    sig = pairs[pairs["reject"].astype(bool)] if len(pairs) else pairs
    if len(sig):
        md += [_table(["metric", "a", "b", "n", "mean a", "mean b", "p", "p adj"],
                      sig[["metric", "a", "b", "n", "mean_a", "mean_b", "p", "p_adj"]]
                      .to_numpy().tolist()), ""]
    else:
        md += [f"None ({len(pairs)} comparisons tested).", ""]
    if len(pairs):
        pairs.to_csv(Path(out) / "pairwise.csv", index=False)
        md += ["All comparisons: `pairwise.csv`.", ""]

    md += ["## Figures", ""]
    if figures and len(ok):
        from ..plot import study_figures

        spec = study.report
        for name in study_figures(ok, metrics, Path(out) / "figures", headline=spec.headline,
                                  scatters=spec.scatters):
            md += [f"![{name}](figures/{name})", ""]
    else:
        md += ["No figures (no finished runs)." if figures else "Figures not requested.", ""]

    md += ["## Failed and skipped runs", ""]
    bad = allrows[allrows["status"].isin(["failed", "skipped"])] if len(allrows) else allrows
    if len(bad):
        md += [_table(["run", "status", "reason"],
                      [[r.run_id, r.status, str(r.error)] for r in bad.itertuples()]), ""]
        for d, g in bad[bad["status"] == "skipped"].groupby("dataset"):
            md.append(f"- dataset `{d}` skipped in {len(g)} run(s): {g['error'].iloc[0]}")
        md.append("")
    else:
        md += ["None.", ""]
    if counts.get("pending"):
        md += [f"{counts['pending']} run(s) of the grid have not run yet.", ""]

    path = Path(out) / "report.md"
    atomic_write_text(path, "\n".join(md))
    return path
