"""The study report: markdown with our numbers beside the papers' headline numbers, plus figures.

:func:`write_report` reads a study folder (see :mod:`circuitvae.study.store`), computes the
statistics (:mod:`circuitvae.stats`) over the study's report metrics, judges the study's findings
(:mod:`circuitvae.study.findings`), recomputes each under the variant columns it declares (the
sensitivity table), summarises training adequacy (active latent dimensions, collapsed runs,
epochs, losses), writes ``report.md`` and PNG figures under ``figures/`` (drawn by
:func:`circuitvae.plot.study_figures`; matplotlib is the ``plot`` extra), and lists failed and
skipped runs with their reasons. It renders on partial results: what cannot be computed is said,
never silently dropped. A study may withhold the verdicts of a profile
(``Study.withhold_verdicts``): the numbers are shown, the verdict column says ``withheld`` and
the report says why.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ..plot import natural_key
from ..protocol import CircuitVAEError
from .findings import VERDICTS, WITHHELD, Finding, SensitivityRow, evaluate, sensitivity
from .grid import GridSpec
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


#: per-run training record columns read by the training-adequacy section (methods spec
#: section 7): latent dimensions with mean KL > 0.01 nats, epochs run, final losses
ADEQUACY_COLUMNS = ("active_dims", "epochs_run", "train_loss", "val_loss")
#: settings that change where or from what a study runs, not what it measures: overriding
#: them (e.g. ``--device cuda`` for the paper profile) keeps a profile's verdicts
NEUTRAL_SETTINGS = frozenset({"device", "data_root", "download"})
#: a finding whose runs have 0 active dimensions in more than this share is flagged
COLLAPSED_SHARE = 0.5


def _collapsed(rows: pd.DataFrame, runs: Sequence[str] | None) -> tuple[int, int] | None:
    """(collapsed runs, runs with ``active_dims``) among ``runs`` (None: all rows)."""
    if "active_dims" not in rows.columns:
        return None
    sub = rows if runs is None or "run_id" not in rows.columns else rows[
        rows["run_id"].astype(str).isin(set(runs))]
    a = pd.to_numeric(sub["active_dims"], errors="coerce").dropna()
    return (int((a == 0).sum()), len(a)) if len(a) else None


def _verdict_cell(f: Finding, rows: pd.DataFrame, withheld: bool) -> str:
    cell = WITHHELD if withheld else f"**{f.status}**"
    c = _collapsed(rows, f.runs)
    if c is not None and c[0] > COLLAPSED_SHARE * c[1]:
        cell += (f" (runs mostly collapsed: {c[0]} of {c[1]} runs it uses have 0 active "
                 "latent dimensions)")
    return cell


def _mean_ci_cell(row: pd.Series) -> str:
    """``mean [low, high] (n=k)``; a single run has no interval, so just ``mean (n=1)``."""
    n = int(row["n"])
    if n < 2:
        return f"{row['mean']:.4g} (n={n})"
    return f"{row['mean']:.4g} [{row['low']:.3g}, {row['high']:.3g}] (n={n})"


def _means_per_dataset(ok: pd.DataFrame, metrics: Sequence[str], seed: int) -> list[str]:
    """One table per dataset: each metric's mean and bootstrap CI over that dataset's runs per
    architecture. Datasets are never pooled: a pooled mean mixes scales (an MSE on Adult is not
    an MSE on dSprites) and weighs datasets by how many runs finished. Metrics with no value on
    a dataset are left out of its table."""
    summ = stats.summary_ci(ok, metrics, ("dataset", "architecture"), seed=seed)
    if summ.empty:
        return ["No metric values.", ""]
    md: list[str] = []
    for dataset, by_dataset in summ.groupby("dataset", sort=True):
        archs = sorted(by_dataset["architecture"].unique(), key=natural_key)
        body = []
        for m in metrics:
            s = by_dataset[(by_dataset["metric"] == m) & (by_dataset["n"] > 0)]
            if s.empty:
                continue
            s = s.set_index("architecture")
            body.append([m] + [_mean_ci_cell(s.loc[a]) if a in s.index else ""
                               for a in archs])
        if body:
            md += [f"### {dataset}", "", _table(["metric", *archs], body), ""]
    return md or ["No metric values.", ""]


def _adequacy(rows: pd.DataFrame) -> list[str]:
    have = [c for c in ADEQUACY_COLUMNS
            if c in rows.columns and pd.to_numeric(rows[c], errors="coerce").notna().any()]
    if not have:
        return ["Training adequacy was not recorded: the finished runs have no "
                + ", ".join(f"`{c}`" for c in ADEQUACY_COLUMNS) + " values.", ""]
    num = {c: pd.to_numeric(rows[c], errors="coerce") for c in have}
    header = ["architecture", "dataset", "runs"]
    if "active_dims" in have:
        header += ["mean active dims", "collapsed (0 active dims)"]
    if "epochs_run" in have:
        header += ["epochs run (mean [min, max])"]
    header += [f"mean {c}" for c in ("train_loss", "val_loss") if c in have]
    body = []
    for (arch, ds), g in rows.groupby(["architecture", "dataset"], sort=True):
        line: list[Any] = [arch, ds, len(g)]
        if "active_dims" in have:
            a = num["active_dims"].loc[g.index].dropna()
            line += [float(a.mean()) if len(a) else float("nan"),
                     f"{int((a == 0).sum())} of {len(a)}"]
        if "epochs_run" in have:
            e = num["epochs_run"].loc[g.index].dropna()
            line.append(f"{e.mean():.4g} [{e.min():.4g}, {e.max():.4g}]" if len(e) else "nan")
        for c in ("train_loss", "val_loss"):
            if c in have:
                line.append(float(num[c].loc[g.index].mean()))
        body.append(line)
    md = ["Active latent dimensions have mean KL > 0.01 nats; a run with none is collapsed. "
          "The losses are each architecture's own objective, penalty and constants included "
          "(an estimator that omits a constant normaliser can make it negative, and such a "
          "constant may depend on the batch and dataset sizes), so they compare the seeds of "
          "one architecture on one dataset, not architectures or datasets.", "",
          _table(header, body), ""]
    if "active_dims" in have:
        a = num["active_dims"].dropna()
        md += [f"{int((a == 0).sum())} of {len(a)} runs collapsed.", ""]
    missing = [c for c in ADEQUACY_COLUMNS if c not in have]
    if missing:
        md += ["Not recorded: " + ", ".join(f"`{c}`" for c in missing) + ".", ""]
    return md


def _r_cell(c: stats.Correlation) -> str:
    if not np.isfinite(c.r):
        return "not computable"
    lo, hi = c.ci()
    pv = "p<.001" if c.p < 1e-3 else f"p={c.p:.3f}"
    ci = f"[{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else "(too few runs for a CI)"
    return f"{c.r:.3f} {ci}, {pv}"


def _correlations(rows: pd.DataFrame, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Within-dataset and pooled r of each (x, y) pair, with Fisher 95% CIs."""
    out = ["Each row: the within-dataset Pearson r of x and y (dataset means removed) and the "
           "pooled r, with Fisher 95% CIs. Descriptive: no verdict rests on them.", ""]
    body = []
    for x, y in pairs:
        if not {x, y} <= set(rows.columns):
            body.append([x, y, "", "not computable: column missing", ""])
            continue
        w, p = stats.within_correlation(rows, x, y), stats.correlation(rows, x, y)
        body.append([x, y, str(w.n), _r_cell(w), _r_cell(p)])
    return out + [_table(["x", "y", "n", "within-dataset r", "pooled r"], body), ""]


def _partials(rows: pd.DataFrame, triples: Sequence[tuple[str, str, str]]) -> list[str]:
    """The within-dataset r of x and y beside their partial r given the control [our choice:
    a regression on the control per dataset]. Descriptive: no verdict rests on it."""
    out = ["Each row: the within-dataset Pearson r of x and y (dataset means removed), and the "
           "partial r of x and y given the control (both regressed on the control within each "
           "dataset, the residuals correlated; `circuitvae.stats.partial_within`), with Fisher "
           "95% CIs. A partial r near 0 says x tells nothing about y that the control does not "
           "already tell.", ""]
    body = []
    for x, y, control in triples:
        if not {x, y, control} <= set(rows.columns):
            body.append([x, y, control, "", "not computable: column missing", ""])
            continue
        same = rows[pd.to_numeric(rows[control], errors="coerce").notna()]  # one set of rows
        w = stats.within_correlation(same, x, y)
        p = stats.partial_within(same, x, y, control)
        body.append([x, y, control, str(p.n), _r_cell(w), _r_cell(p)])
    out += [_table(["x", "y", "control", "n", "within-dataset r", "partial r given control"],
                   body), ""]
    return out


def _sensitivity(rows: Sequence[SensitivityRow], undeclared: Sequence[str],
                 withheld: bool) -> list[str]:
    md = ["Each finding recomputed with one variant column in place of its default column "
          "(the documented alternatives of the choices it rests on, e.g. the sigma_eff scale, "
          "the modularity definition or the dead threshold: the column names say which). The "
          "default row decides the verdict above; the others show how much the conclusion "
          "leans on the choice. A variant column absent from the rows is not computable.", ""]
    if rows:
        md += [_table(["finding", "choice", "column used", "verdict", "key number"],
                      [[r.claim, r.column, f"`{r.variant}`" + (" (default)" if r.is_default
                                                               else ""),
                        WITHHELD if withheld else r.status,
                        r.key_number or r.ours] for r in rows]), ""]
    else:
        md += ["No finding declares variants.", ""]
    if undeclared:
        md += ["Findings without a variant choice: " + "; ".join(undeclared) + ".", ""]
    return md


def write_report(out: str | os.PathLike[str], *, study: Study | str | None = None,
                 figures: bool = True, seed: int = 0) -> Path:
    """Write ``report.md`` (and figures) for the study folder ``out``; return its path.

    ``study`` (a :class:`Study` or its name) decides the findings judged and the metrics
    summarised; by default, the study named in the folder's ``study.json``.
    """
    store = ResultStore(out)
    if not store.root.is_dir():
        why = "it is not a folder" if store.root.exists() else "it does not exist"
        raise CircuitVAEError(f"{out} is not a study folder ({why})")
    grid = store.read_spec()
    if study is None:
        if grid is None:
            raise CircuitVAEError(f"{out} has no study.json; name the study (--study NAME)")
        study = grid.name
    study = get_study(study)
    foreign = grid is not None and grid.name != study.name
    if foreign:
        warnings.warn(f"{out} holds runs of study {grid.name!r}; judging them by the findings "
                      f"of study {study.name!r}", stacklevel=2)
    store.export()
    allrows = store.frame()
    ok = allrows[allrows["status"] == "ok"].copy() if len(allrows) else allrows
    metrics, missing = _metric_columns(ok, study.report.metrics)
    for m in metrics:
        ok[m] = pd.to_numeric(ok[m], errors="coerce")
    pairs = stats.pairwise_table(ok, metrics) if len(ok) else pd.DataFrame(
        columns=stats.PAIRWISE_COLUMNS)
    found: list[Finding] = evaluate(study.findings, ok, pairs, study.name)
    sens = sensitivity(study.findings, ok, pairs, found)
    counts = store.counts(grid)
    profile = grid.profile if grid is not None else None
    reason = study.withhold_verdicts.get(profile) if profile is not None else None
    if reason is None and grid is not None and profile in study.profiles:
        declared = GridSpec(study.name, grid.architectures, grid.datasets, grid.seeds, profile,
                            study.profiles[profile]).settings_dict()
        used = grid.settings_dict()
        changed = sorted(k for k in set(declared) | set(used)
                         if declared.get(k) != used.get(k) and k not in NEUTRAL_SETTINGS)
        if changed:  # a verdict is for the profile as declared
            reason = (f"this store's settings differ from the `{profile}` profile in "
                      f"{', '.join(changed)}: a profile's verdicts are for its declared "
                      "settings; run without overrides for verdicts")
    withheld = reason is not None

    md = [f"# Study report: {study.name}", "", study.title, ""]
    if grid is not None:
        md += [f"Grid: {len(grid.architectures)} architectures x {len(grid.datasets)} datasets x "
               f"{len(grid.seeds)} seeds = {len(grid)} runs; profile `{grid.profile}`; "
               f"settings `{grid.settings_dict()}`.", ""]
        if foreign:
            md += [f"**Judged as study `{study.name}`**: this folder's study.json names study "
                   f"`{grid.name}`, whose runs these are.", ""]
    md += ["Runs: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".", ""]

    if not study.findings:  # an open question, not a reproduction: no verdict table
        md += ["## Findings", "", "This study judges no finding of a paper: it answers an "
               "open question with the numbers in the sections below.", ""]
    else:
        md += ["## Findings: paper vs ours", "",
               "Each finding is judged by the rule in its row: *reproduced* = the paper's "
               "direction significant at alpha = 0.05 and its number consistent with ours "
               "(inside our 95% CI, or a fold change within a factor 2); *direction only* = "
               "the direction significant, "
               "the number not; *not reproduced* = the direction not significant or reversed; "
               "*underpowered* = fewer runs than the rule needs (no verdict is given below that); "
               "see docs/study.md.", ""]
        if withheld:
            md += [f"**Verdicts withheld** for this store's profile `{profile}`: {reason}", ""]
        md.append(_table(["finding", "paper", "ours", "verdict", "rule"],
                         [[f.claim, f.paper, f.ours, _verdict_cell(f, ok, withheld), f.rule]
                          for f in found]))
        if withheld:
            md += ["", f"{len(found)} findings; verdicts withheld (profile `{profile}`).", ""]
        else:
            tally = ", ".join(f"{sum(f.status == v for f in found)} {v}" for v in VERDICTS)
            md += ["", f"{len(found)} findings: {tally}.", ""]

        md += ["## Sensitivity to our choices", ""]
        md += _sensitivity(sens, [f.claim for f, r in zip(found, study.findings, strict=True)
                                  if not r.variants], withheld)

    if study.sections is not None:
        try:
            md += study.sections(ok, Path(out), figures)
        except Exception as err:  # noqa: BLE001 - a report always renders; the cause is named
            md += ["## Study sections", "",
                   f"Not computable: {type(err).__name__}: {err}", ""]

    if study.report.partials:
        md += ["## Beyond a control: partial correlations (within dataset)", ""]
        md += _partials(ok, study.report.partials)

    if study.report.correlations:
        md += ["## Correlations over runs (within dataset and pooled)", ""]
        md += _correlations(ok, study.report.correlations)

    md += ["## Training adequacy (per architecture x dataset)", ""]
    md += _adequacy(ok) if len(ok) else ["No finished runs.", ""]

    md += ["## What could not be computed", ""]
    lines = [f"- metric `{c}`: no values in any finished run" for c in missing]
    lines += [f"- finding '{f.claim}': {f.ours.removeprefix('not computable: ')}"
              for f in found if f.status == "not computable"]
    md += (lines or ["Everything was computed."]) + [""]

    md += ["## Means per architecture and dataset (95% bootstrap CI over seeds)", ""]
    md += _means_per_dataset(ok, metrics, seed) if len(ok) else ["No finished runs.", ""]

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
