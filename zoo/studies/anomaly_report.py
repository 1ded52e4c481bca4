"""The anomaly study's own report sections: AUCs beside the seed's with the comparability
caveat, what carries the score (heads and latents), and three figures (ROC / PR curves, head
effects, score maps with uncertainty)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from .anomaly import SCORE_COLUMNS, SEED_PR_AUC, SEED_ROC_AUC

CAVEAT = (
    f"The seed's ROC AUC {SEED_ROC_AUC} and PR AUC {SEED_PR_AUC} are for BraTS2020 FLAIR "
    "slices. The `mri_standin` numbers come from T1 template slices with synthetic lesions, and "
    "`breast_cancer` is a tabular task: **neither is comparable with the seed's numbers**. They "
    "show how the scores and models rank against each other, not whether the seed's result "
    "holds. Only `brats2020` runs (when its files are present) are set beside the seed's.")


def _parsed(ok: pd.DataFrame, column: str) -> list[Any]:
    if column not in ok.columns:
        return [None] * len(ok)
    return [json.loads(v) if isinstance(v, str) else None for v in ok[column]]


def _cell(values: pd.Series) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "-"
    return f"{v.mean():.3f}" + (f" +- {v.std(ddof=1):.3f}" if len(v) > 1 else "")


def auc_table(ok: pd.DataFrame) -> list[str]:
    md = ["## Detection: the seed's numbers beside ours", "", CAVEAT, "",
          "Mean +- sd over seeds; `-` where a model has no such score (the plain VAE has no "
          "dropout and no predicted variance: reconstruction error only).", ""]
    cols = [(f"roc_auc_{c}", f"ROC AUC {s}") for s, c in SCORE_COLUMNS.items()]
    cols += [(f"pr_auc_{c}", f"PR AUC {s}") for s, c in SCORE_COLUMNS.items()]
    cols += [("pixel_auroc_normalized", "pixel AUROC (normalized)"),
             ("best_dice_normalized", "best Dice (normalized)"),
             ("pixel_auroc_recon", "pixel AUROC (recon)")]
    have = [(c, label) for c, label in cols if c in ok.columns]
    header = ["dataset", "model", "runs", *(label for _, label in have)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.append("| brats2020 | seed (BraTS2020) | - | " + " | ".join(
        (str(SEED_ROC_AUC) if c.startswith("roc_auc_normalized") else
         str(SEED_PR_AUC) if c.startswith("pr_auc_normalized") else "")
        for c, _ in have) + " |")
    for (ds, arch), g in ok.groupby(["dataset", "architecture"]):
        lines.append("| " + " | ".join([str(ds), str(arch), str(len(g)),
                                        *(_cell(g[c]) for c, _ in have)]) + " |")
    return md + lines + [""]


def _runs_of(g: pd.DataFrame) -> list[tuple[int, dict[str, Any]]]:
    """(seed, interpretation) of each run of ``g`` that has one."""
    return [(int(seed), item) for seed, item in zip(g["seed"], _parsed(g, "interpretation"),
                                                    strict=True) if item]


def _layer(site: str) -> str:
    return site.split(".head.")[0]


def interpretation(ok: pd.DataFrame) -> list[str]:
    """Per run, then summarised over runs: a head or latent index names a position in one
    trained model only (each seed trains its own), so nothing is averaged by index."""
    md = ["## What carries the anomaly score", "",
          "**Heads.** Each attention head's output on an anomalous input is replaced by its "
          "value on a normal one (a lesioned slice and a healthy slice; a malignant and a "
          "benign row), and the anomalous input's reconstruction score is measured again "
          "(`circuitvae.anomaly_circuits.site_score_effects`). The share is that change over "
          "the score: negative means the score drops, so the score depends on the head's "
          "response to the anomaly. Heads are compared within a run only: head *h* of one "
          "seed's model is not head *h* of another's. Per layer: the largest |share| of its "
          "heads in each run (mean and max over runs), and how many (head, run) effects are "
          "positive.", ""]
    rows = []
    for (ds, arch), g in ok.groupby(["dataset", "architecture"]):
        per_layer: dict[str, list[list[float]]] = {}
        for _, item in _runs_of(g):
            by_layer: dict[str, list[float]] = {}
            for h in item.get("heads", []):
                by_layer.setdefault(_layer(h["site"]), []).append(float(h["share"]))
            for layer, shares in by_layer.items():
                per_layer.setdefault(layer, []).append(shares)
        for layer, runs in sorted(per_layer.items()):
            largest = np.array([max(abs(v) for v in r) for r in runs])
            flat = [v for r in runs for v in r]
            rows.append([ds, arch, layer, str(len(runs)), f"{largest.mean():.3g}",
                         f"{largest.max():.3g}",
                         f"{sum(v > 0 for v in flat)} of {len(flat)}"])
    if rows:
        md += ["| dataset | model | layer | runs | largest share (mean over runs) | "
               "largest share (max) | positive effects |", "|---|---|---|---|---|---|---|"]
        md += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    else:
        md += ["No head effects (no finished attention runs).", ""]
    md += ["**Latents.** The CES of each latent on the score: the mean absolute change of the "
           "anomalous inputs' score as the latent sweeps its calibrated grid "
           "(`latent_score_ces`); its standard deviation over Monte-Carlo dropout passes is the "
           "epistemic error bar. Per run: the three latents with the largest CES (that run's "
           "latent indices) and the share of the summed CES they carry; the error bar as a "
           "share of each CES, averaged over latents.", ""]
    lrows = []
    for (ds, arch), g in ok.groupby(["dataset", "architecture"]):
        for seed, item in sorted(_runs_of(g), key=lambda r: r[0]):
            if "latent_ces" not in item:
                continue
            ces = np.asarray(item["latent_ces"]["ces"], dtype=float)
            sd = np.asarray(item["latent_ces"]["sd"], dtype=float)
            top = np.argsort(-ces)[:3]
            share = ces[top].sum() / ces.sum() if ces.sum() > 0 else math.nan
            rel = np.nanmean(np.where(ces > 0, sd / np.where(ces > 0, ces, 1.0), np.nan))
            lrows.append([ds, arch, str(seed), ", ".join(f"z{j} {ces[j]:.3g}" for j in top),
                          f"{share:.2f} of {len(ces)}", f"{rel:.1%}"])
    if lrows:
        md += ["| dataset | model | seed | top three latents (CES on the score) | their share "
               "of the summed CES | epistemic sd / CES |", "|---|---|---|---|---|---|"]
        md += ["| " + " | ".join(r) + " |" for r in lrows] + [""]
    return md


def figures(ok: pd.DataFrame, fig_dir: Path) -> list[str]:
    from circuitvae.plot import new_figure, save_figures

    out = []
    datasets = sorted(ok["dataset"].unique())
    fig = new_figure((9, 3.4 * len(datasets)))
    axes = fig.subplots(len(datasets), 2, squeeze=False)
    for r, ds in enumerate(datasets):
        g = ok[ok["dataset"] == ds]
        for arch, ga in g.groupby("architecture"):
            score = "normalized" if arch != "vae" else "recon"
            ys, ss = [], []
            for sc, lab in zip(_parsed(ga, "scores"), _parsed(ga, "labels"), strict=True):
                if sc and lab and score in sc:
                    ys += lab
                    ss += sc[score]
            if len(set(ys)) < 2:
                continue
            fpr, tpr, _ = roc_curve(ys, ss)
            prec, rec, _ = precision_recall_curve(ys, ss)
            axes[r][0].plot(fpr, tpr, label=f"{arch} ({score})")
            axes[r][1].plot(rec, prec, label=f"{arch} ({score})")
        axes[r][0].plot([0, 1], [0, 1], ":", color="grey")
        axes[r][0].set_title(f"{ds}: ROC (seeds pooled)", fontsize=9)
        axes[r][1].set_title(f"{ds}: precision-recall", fontsize=9)
        axes[r][0].set_xlabel("false positive rate")
        axes[r][1].set_xlabel("recall")
        axes[r][0].legend(fontsize=7)
    out.append(("roc_pr_curves.png", fig))

    interp = [(ds, seed, item) for ds, arch, seed, item in zip(
        ok["dataset"], ok["architecture"], ok["seed"], _parsed(ok, "interpretation"),
        strict=True) if item and arch == "bayes_attention_vae" and item.get("heads")]
    if interp:
        by_ds: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for ds, seed, item in interp:
            by_ds.setdefault(ds, []).append((int(seed), item))
        fig = new_figure((10, 3.2 * len(by_ds)))
        axes = fig.subplots(len(by_ds), 2, squeeze=False)
        for r, (ds, items) in enumerate(sorted(by_ds.items())):
            a, b = axes[r]
            for seed, it in sorted(items, key=lambda t: t[0]):
                shares = sorted((h["share"] for h in it["heads"]), key=abs, reverse=True)
                a.plot(range(1, len(shares) + 1), shares, marker="o", label=f"seed {seed}")
                if "latent_ces" in it:
                    ces = np.asarray(it["latent_ces"]["ces"], dtype=float)
                    sd = np.asarray(it["latent_ces"]["sd"], dtype=float)
                    order = np.argsort(-ces)
                    b.errorbar(range(1, len(ces) + 1), ces[order], yerr=sd[order], marker="o",
                               capsize=2, label=f"seed {seed}")
            a.axhline(0, color="grey", lw=0.5)
            a.set_xlabel("head, by |share| within the run", fontsize=8)
            a.set_title(f"{ds}: score change when a head sees normal input (share)",
                        fontsize=9)
            a.legend(fontsize=7)
            b.set_xlabel("latent, by CES within the run", fontsize=8)
            b.set_title(f"{ds}: CES on the score (+- epistemic sd)", fontsize=9)
        fig.suptitle("Bayesian attention VAE, each run on its own (indices are not shared "
                     "across seeds)", fontsize=9)
        out.append(("what_carries_the_score.png", fig))

    examples = [(row.dataset, e) for row, e in zip(ok.itertuples(), _parsed(ok, "example"),
                                                   strict=True)
                if e and row.architecture == "bayes_attention_vae"]
    if examples:
        ds, e = examples[0]
        panels = [k for k in ("image", "mask", "recon", "epistemic", "aleatoric", "score")
                  if k in e]
        fig = new_figure((2.2 * len(panels), 2.6))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for a, k in zip(axes, panels, strict=True):
            a.imshow(np.asarray(e[k])[0], cmap="gray" if k in ("image", "mask") else "magma")
            a.set_title(k, fontsize=9)
            a.axis("off")
        fig.suptitle(f"{ds}: a lesioned test slice, its maps (Bayesian attention VAE)",
                     fontsize=9)
        out.append(("score_maps.png", fig))
    return save_figures(out, fig_dir)


def sections(ok: pd.DataFrame, out: Path, make_figures: bool) -> list[str]:
    if ok.empty:
        return ["## Detection: the seed's numbers beside ours", "", CAVEAT, "",
                "No finished runs.", ""]
    md = auc_table(ok) + interpretation(ok)
    if make_figures:
        md += ["## Anomaly figures", ""]
        md += [f"![{n}](figures/{n})" for n in figures(ok, Path(out) / "figures")] + [""]
    return md
