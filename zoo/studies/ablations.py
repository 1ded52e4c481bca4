"""The review's open questions as two studies (the review of seed 000; methods.md s. 7, 11).

* ``beta_ablation``: beta-VAE with beta in 0.5, 1, 2, 4, 8, 16 on Adult and German Credit,
  three seeds. Is the beta-VAE collapse on tabular data continuous or a phase transition, and
  where does it sit? [review: "it is possible that the collapse of beta-VAE is beta-specific"]
* ``latent_ablation``: the VAE with d in 5, 10, 20 latent dimensions on Adult, three seeds
  [review: "the latent dimensionality is fixed at 10 without ablation"].

Each run is the tabular study's run (:func:`.train_analyze.train_and_analyze`: the same
profiles, training, :func:`circuitvae.analyze` with the downstream columns), with the grid
value as a config override; the row records it (``beta`` or ``latent_dim``). There is no paper
number to reproduce, so these studies judge no finding; their report answers the question
with the numbers: every metric against the grid value, and for beta the transition.

**The transition** [our choice]: the beta at which the mean number of active latent dimensions
(mean KL > 0.01 nats) falls below half of its mean at the smallest beta of the grid,
interpolated linearly in log beta between grid points, with a 95% percentile bootstrap
interval over the runs (resampled within each beta): :func:`circuitvae.stats.transition_ci`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from circuitvae import stats
from circuitvae.study import ReportSpec, RunSpec, Study

from .tabular import withhold_quick
from .train_analyze import (
    PROFILES,
    TrainAnalyzeSettings,
    prepare_data,
    train_and_analyze,
)

#: grid label -> (zoo architecture, config override, the value recorded)
BETAS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
LATENT_DIMS = (5, 10, 20)
LABELS: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"beta{b:g}": ("beta_vae", {"beta": b}) for b in BETAS},
    **{f"d{d}": ("vae", {"latent_dim": d}) for d in LATENT_DIMS},
}
#: the fraction of the least-regularised active dimensions that marks the transition
TRANSITION_FRACTION = 0.5
#: the quantities drawn and tabulated against the grid value
QUANTITIES = (
    ("active_dims", "active latent dims"), ("ces_calibrated", "CES (means scale)"),
    ("ces_calibrated_total", "CES (total scale)"),
    ("ces_calibrated_posterior", "CES (posterior scale)"), ("mse", "reconstruction MSE"),
    ("auc", "downstream AUC"), ("specificity", "specificity"),
    ("impute_rmse", "imputation RMSE"), ("impute_rmse_baseline", "imputation RMSE, mean fill"),
    ("impute_accuracy", "imputation accuracy"),
    ("impute_accuracy_baseline", "imputation accuracy, mode fill"),
    ("anomaly_roc_auc", "anomaly ROC AUC"),
)
#: a quantity's baseline, drawn dashed in the quantity's panel instead of a panel of its own
BASELINES = {"impute_rmse": "impute_rmse_baseline",
             "impute_accuracy": "impute_accuracy_baseline"}


def run_ablation(spec: RunSpec) -> dict[str, Any]:
    """One run: the grid label's architecture and override, then the tabular study's run."""
    architecture, override = LABELS[spec.architecture]
    settings: TrainAnalyzeSettings = spec.settings
    inner = dataclasses.replace(spec, architecture=architecture, settings=dataclasses.replace(
        settings, model={**settings.model, **override}))
    out = train_and_analyze(inner)
    out["metrics"].update({k: float(v) for k, v in override.items()})
    out["ablation"] = {"label": spec.architecture, "architecture": architecture, **override}
    return out


def _grid_value(rows: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(rows[column], errors="coerce") if column in rows.columns else \
        pd.Series(np.nan, index=rows.index)


def _cell(values: pd.Series, digits: int = 3) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "-"
    sd = f" +- {v.std(ddof=1):.{digits}g}" if len(v) > 1 else ""
    return f"{v.mean():.{digits}g}{sd}"


def grid_table(rows: pd.DataFrame, column: str) -> list[str]:
    """Mean +- sd over seeds of every quantity, one line per (dataset, grid value)."""
    rows = rows.assign(_x=_grid_value(rows, column))
    have = [(c, label) for c, label in QUANTITIES if c in rows.columns]
    header = ["dataset", column, "runs", *(label for _, label in have)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (ds, x), g in rows.dropna(subset=["_x"]).groupby(["dataset", "_x"]):
        lines.append("| " + " | ".join([str(ds), f"{x:g}", str(len(g)),
                                        *(_cell(g[c]) for c, _ in have)]) + " |")
    return lines + [""]


def transition_lines(rows: pd.DataFrame) -> list[str]:
    """The beta of the collapse per dataset (see the module doc)."""
    rows = rows.assign(_x=_grid_value(rows, "beta"),
                       _a=pd.to_numeric(rows.get("active_dims"), errors="coerce"))
    out = [f"Transition [our choice]: the beta where the mean active dimensions fall below "
           f"{TRANSITION_FRACTION:g} x their mean at the smallest beta, interpolated in log "
           "beta, with a 95% bootstrap interval over runs.", ""]
    for ds, g in rows.dropna(subset=["_x", "_a"]).groupby("dataset"):
        values = {float(x): c["_a"].to_numpy(float) for x, c in g.groupby("_x")}
        if len(values) < 2:
            out.append(f"- {ds}: needs 2+ beta values with runs")
            continue
        ci = stats.transition_ci(values, fraction=TRANSITION_FRACTION)
        first = min(values)
        if math.isnan(ci.estimate):
            out.append(f"- {ds}: no transition inside the grid (active dims stay above half "
                       f"of {np.mean(values[first]):.3g} at beta = {first:g})")
        else:
            interval = (f"[{ci.low:.3g}, {ci.high:.3g}]" if np.isfinite(ci.low)
                        else "(interval undefined)")
            out.append(f"- {ds}: beta* = {ci.estimate:.3g} {interval}, n = {ci.n} runs; active "
                       f"dims at beta = {first:g}: {np.mean(values[first]):.3g}")
    return out + [""]


def grid_figure(rows: pd.DataFrame, column: str, fig_dir: Path, *, log_x: bool) -> list[str]:
    """``metrics_vs_<column>.png``: each quantity against the grid value, one line per
    dataset (mean with the runs as points; a quantity's baseline dashed in its panel)."""
    from circuitvae.plot import new_figure, save_figures

    rows = rows.assign(_x=_grid_value(rows, column)).dropna(subset=["_x"])
    have = [(c, label) for c, label in QUANTITIES if c in rows.columns
            and c not in BASELINES.values()
            and pd.to_numeric(rows[c], errors="coerce").notna().any()]
    if not have:
        return []
    cols = 3
    nrows = math.ceil(len(have) / cols)
    fig = new_figure((4.0 * cols, 3.0 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for i, (c, label) in enumerate(have):
        ax = axes[i // cols][i % cols]
        for ds, g in rows.groupby("dataset"):
            y = pd.to_numeric(g[c], errors="coerce")
            ax.scatter(g["_x"], y, s=10, alpha=0.5)
            mean = y.groupby(g["_x"]).mean()
            line, = ax.plot(mean.index, mean.to_numpy(), marker="o", label=str(ds))
            if BASELINES.get(c) in g.columns:
                base = pd.to_numeric(g[BASELINES[c]], errors="coerce").groupby(g["_x"]).mean()
                ax.plot(base.index, base.to_numpy(), ls="--", color=line.get_color(),
                        label=f"{ds}: baseline")
                ax.legend(fontsize=6)
        if log_x:
            ax.set_xscale("log", base=2)
        ticks = sorted(rows["_x"].unique())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(column)
        ax.set_title(label, fontsize=9)
    for j in range(len(have), nrows * cols):
        axes[j // cols][j % cols].set_visible(False)
    axes[0][0].legend(fontsize=7)
    return save_figures([(f"metrics_vs_{column}.png", fig)], fig_dir)


def _sections_for(column: str, title: str, *, log_x: bool, transition: bool) -> Any:
    def sections(ok: pd.DataFrame, out: Path, figures: bool) -> list[str]:
        md = [f"## {title}", ""]
        if ok.empty or column not in ok.columns:
            return md + ["No finished runs.", ""]
        md += grid_table(ok, column)
        if transition:
            md += transition_lines(ok)
        if figures:
            md += [f"![{n}](figures/{n})" for n in grid_figure(ok, column, Path(out) / "figures",
                                                               log_x=log_x)] + [""]
        return md
    return sections


def _study(name: str, title: str, labels: tuple[str, ...], datasets: tuple[str, ...],
           column: str, section: str, *, log_x: bool, transition: bool) -> Study:
    return withhold_quick(Study(
        name=name, title=title, architectures=labels, datasets=datasets, seeds=(42, 123, 456),
        settings_type=TrainAnalyzeSettings, profiles=PROFILES, task=run_ablation,
        prepare=prepare_data,
        report=ReportSpec(metrics=tuple(c for c, _ in QUANTITIES), headline="active_dims"),
        sections=_sections_for(column, section, log_x=log_x, transition=transition),
    ))


BETA_ABLATION = _study(
    "beta_ablation",
    "beta ablation (the review's open question): beta-VAE with beta in 0.5-16 on Adult and "
    "German Credit, three seeds. Is the tabular collapse continuous or a transition?",
    tuple(f"beta{b:g}" for b in BETAS), ("adult", "german_credit"), "beta",
    "Every metric against beta", log_x=True, transition=True)

LATENT_ABLATION = _study(
    "latent_ablation",
    "latent-size ablation (the review's open question): the VAE with 5, 10 and 20 latent "
    "dimensions on Adult, three seeds.",
    tuple(f"d{d}" for d in LATENT_DIMS), ("adult",), "latent_dim",
    "Every metric against the latent size", log_x=True, transition=False)
