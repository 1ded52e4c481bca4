"""The anomaly study's own report sections: AUCs beside the seed's with the comparability
caveat, what carries the score (heads and latents), and three figures (ROC / PR curves, head
effects, score maps with uncertainty)."""

from __future__ import annotations

import json
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


def interpretation(ok: pd.DataFrame) -> list[str]:
    md = ["## What carries the anomaly score", "",
          "**Heads.** Each attention head's output on a lesioned slice is replaced by its value "
          "on a healthy slice, and the lesioned slice's reconstruction score is measured again "
          "(`circuitvae.anomaly_circuits.site_score_effects`). A negative effect means the score "
          "drops: the score depends on that head's response to the anomaly. The share is the "
          "effect over the slice's score. Mean over seeds.", ""]
    rows = []
    for (ds, arch), g in ok.groupby(["dataset", "architecture"]):
        per: dict[str, list[tuple[float, float]]] = {}
        for item in _parsed(g, "interpretation"):
            for h in (item or {}).get("heads", []):
                per.setdefault(h["site"], []).append((h["effect"], h["share"]))
        for site, vals in sorted(per.items()):
            e = np.array(vals)
            rows.append([ds, arch, site, f"{e[:, 0].mean():.4g}", f"{e[:, 1].mean():+.3g}",
                         str(len(e))])
    if rows:
        md += ["| dataset | model | head | effect on score | share | runs |",
               "|---|---|---|---|---|---|"]
        md += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    else:
        md += ["No head effects (no finished attention runs).", ""]
    md += ["**Latents.** The CES of each latent on the score: the mean absolute change of the "
           "lesioned slices' score as the latent sweeps its calibrated grid "
           "(`latent_score_ces`); the +- is its standard deviation over Monte-Carlo dropout "
           "passes, the epistemic error bar. Mean over seeds.", ""]
    lrows = []
    for (ds, arch), g in ok.groupby(["dataset", "architecture"]):
        ces = [item["latent_ces"] for item in _parsed(g, "interpretation")
               if item and "latent_ces" in item]
        if not ces:
            continue
        m = np.mean([c["ces"] for c in ces], axis=0)
        sd = np.mean([c["sd"] for c in ces], axis=0)
        order = np.argsort(-m)
        lrows.append([ds, arch, ", ".join(f"z{j} {m[j]:.3g} +- {sd[j]:.2g}"
                                          for j in order[:5])])
    if lrows:
        md += ["| dataset | model | top latents (CES on the score +- epistemic sd) |",
               "|---|---|---|"] + ["| " + " | ".join(r) + " |" for r in lrows] + [""]
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

    interp = [(ds, arch, item) for ds, arch, item in zip(ok["dataset"], ok["architecture"],
                                                         _parsed(ok, "interpretation"),
                                                         strict=True)
              if item and arch == "bayes_attention_vae" and item.get("heads")]
    if interp:
        by_ds: dict[str, list[dict[str, Any]]] = {}
        for ds, _, item in interp:
            by_ds.setdefault(ds, []).append(item)
        fig = new_figure((10, 3.2 * len(by_ds)))
        axes = fig.subplots(len(by_ds), 2, squeeze=False)
        for r, (ds, items) in enumerate(sorted(by_ds.items())):
            sites = sorted({h["site"] for it in items for h in it["heads"]})
            eff = np.array([[next((h["share"] for h in it["heads"] if h["site"] == s), np.nan)
                             for s in sites] for it in items])
            a = axes[r][0]
            a.bar(range(len(sites)), np.nanmean(eff, 0), yerr=np.nanstd(eff, 0), capsize=2)
            a.set_xticks(range(len(sites)), [s.replace(".head.", " h") for s in sites],
                         rotation=60, fontsize=7)
            a.axhline(0, color="grey", lw=0.5)
            a.set_title(f"{ds}: score change when a head sees healthy input (share)",
                        fontsize=9)
            ces = np.array([it["latent_ces"]["ces"] for it in items if "latent_ces" in it])
            sd = np.array([it["latent_ces"]["sd"] for it in items if "latent_ces" in it])
            if ces.size:
                b = axes[r][1]
                b.bar(range(ces.shape[1]), ces.mean(0), yerr=sd.mean(0), capsize=2)
                b.set_xlabel("latent", fontsize=8)
                b.set_title(f"{ds}: CES on the score (+- epistemic sd)", fontsize=9)
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
