"""The study report: markdown with our numbers beside the papers' headline numbers, plus figures.

:func:`write_report` reads a study folder (see :mod:`circuitvae.study.store`), computes the
statistics (:mod:`circuitvae.stats`), judges each finding (:mod:`circuitvae.study.findings`),
writes ``report.md`` and PNG figures under ``figures/`` (matplotlib, imported lazily: the ``plot``
extra), and lists failed and skipped runs with their reasons. It renders on partial results:
what cannot be computed is said, never silently dropped.
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
from .columns import METRICS, col
from .findings import Finding, evaluate
from .store import ResultStore

FIGURES = ("ces_by_architecture.png", "ces_vs_mse.png", "specificity_vs_auc.png",
           "metrics_by_architecture.png")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            v = "nan" if not np.isfinite(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _metric_columns(rows: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(metric columns with values, expected metric columns without any)."""
    have, missing = [], []
    for c in dict.fromkeys(METRICS.values()):
        if c in rows.columns and pd.to_numeric(rows[c], errors="coerce").notna().any():
            have.append(c)
        else:
            missing.append(c)
    extra = [c for c in rows.columns if c.startswith("modularity") and c not in have
             and c not in missing and pd.to_numeric(rows[c], errors="coerce").notna().any()]
    return have + extra, missing


def _figures(rows: pd.DataFrame, metrics: list[str], fig_dir: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise CircuitVAEError("figures need matplotlib: pip install 'circuitvae[plot]'") from e
    fig_dir.mkdir(parents=True, exist_ok=True)
    archs = sorted(rows["architecture"].dropna().unique().tolist()) if len(rows) else []
    datasets = sorted(rows["dataset"].dropna().unique().tolist()) if len(rows) else []
    colors = {d: plt.cm.tab10(i % 10) for i, d in enumerate(datasets)}
    written = []

    def finish(fig: Any, name: str) -> None:
        fig.tight_layout()
        tmp = fig_dir / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        os.replace(tmp, fig_dir / name)
        written.append(name)

    def no_data(ax: Any, what: str) -> None:
        ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)

    # CES per architecture, one point per run, coloured by dataset
    fig, ax = plt.subplots(figsize=(7, 4))
    c = col("ces")
    if c in metrics and archs:
        for i, a in enumerate(archs):
            sub = rows[rows["architecture"] == a]
            for d, g in sub.groupby("dataset"):
                y = pd.to_numeric(g[c], errors="coerce")
                ax.scatter(np.full(len(y), i) + np.linspace(-0.15, 0.15, len(y)), y, s=18,
                           color=colors[d], label=d if i == 0 or d not in
                           set(rows[rows["architecture"].isin(archs[:i])]["dataset"]) else None)
        ax.set_xticks(range(len(archs)), archs, rotation=20)
        ax.set_ylabel(c)
        ax.legend(fontsize=7)
    else:
        no_data(ax, c)
    ax.set_title("CES per architecture")
    finish(fig, FIGURES[0])

    for name, (x, y) in zip(FIGURES[1:3], [("ces", "mse"), ("specificity", "auc")], strict=True):
        fig, ax = plt.subplots(figsize=(5, 4))
        cx, cy = col(x), col(y)
        if cx in metrics and cy in metrics:
            for d, g in rows.groupby("dataset"):
                ax.scatter(pd.to_numeric(g[cx], errors="coerce"),
                           pd.to_numeric(g[cy], errors="coerce"), s=18, color=colors[d], label=d)
            r = stats.correlation(rows, cx, cy)
            ax.set_title(f"{cx} vs {cy}: r={r.r:.3f}, n={r.n}")
            ax.set_xlabel(cx)
            ax.set_ylabel(cy)
            ax.legend(fontsize=7)
        else:
            no_data(ax, f"{cx} / {cy}")
        finish(fig, name)

    # every metric's mean per architecture (one small panel per metric)
    n = max(1, len(metrics))
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    for ax, m in zip(axes.ravel(), metrics, strict=False):
        means = pd.to_numeric(rows[m], errors="coerce").groupby(rows["architecture"]).mean()
        ax.bar(range(len(means)), means.to_numpy(float), color="tab:blue")
        ax.set_xticks(range(len(means)), means.index, rotation=45, fontsize=6)
        ax.set_title(m, fontsize=8)
    if not metrics:
        no_data(axes[0, 0], "no metric")
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    finish(fig, FIGURES[3])
    return written


def write_report(out: str | os.PathLike[str], *, study: str | None = None,
                 figures: bool = True, seed: int = 0) -> Path:
    """Write ``report.md`` (and figures) for the study folder ``out``; return its path.

    ``study`` picks which paper's findings to judge ("tabular" or "image"; default: the stored
    grid's name, or all findings when unknown).
    """
    store = ResultStore(out)
    grid = store.read_spec()
    study = study or (grid.name if grid is not None else None)
    if study not in (None, "tabular", "image"):
        study = None
    store.export()
    allrows = store.frame()
    ok = allrows[allrows["status"] == "ok"].copy() if len(allrows) else allrows
    metrics, missing = _metric_columns(ok)
    for m in metrics:
        ok[m] = pd.to_numeric(ok[m], errors="coerce")
    pairs = stats.pairwise_table(ok, metrics) if len(ok) else pd.DataFrame(
        columns=stats.PAIRWISE_COLUMNS)
    found: list[Finding] = evaluate(ok, pairs, study)
    counts = store.counts(grid)

    md = [f"# Study report: {study or 'study'}", ""]
    if grid is not None:
        md += [f"Grid: {len(grid.architectures)} architectures x {len(grid.datasets)} datasets x "
               f"{len(grid.seeds)} seeds = {len(grid)} runs; profile `{grid.profile}`; "
               f"settings `{grid.settings()}`.", ""]
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
        for name in _figures(ok, metrics, Path(out) / "figures"):
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
    tmp = Path(out) / ".report.md.tmp"
    tmp.write_text("\n".join(md))
    os.replace(tmp, path)
    return path
