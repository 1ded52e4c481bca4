"""Benchmark 7: attribution patching of every unit of a 256-unit site against exact patching.

Model: a zoo VAE trained on Adult (d = 10; hidden 256 -> 128 / 128 -> 256). Pairs: N test rows
as base, the next N as source. Measured: ``cv.attribution_patch(..., check=0)`` at the first
encoder layer (256 units: one forward with the graph kept, one backward); baseline: exact
patching of each unit on its own with ``cv.patch`` (256 calls, two passes each), the metric read
from its outputs; peer: the exact batched re-measurement that ``check="all"`` runs (all 256
units in row blocks of one pass per chunk). Target: >= 50x faster than the per-unit loop.
Also reported: Spearman's rho of approximate vs exact effects at every hidden site.
"""

from __future__ import annotations

import numpy as np
import torch

import circuitvae as cv

from .common import timeit
from .models import tabular


def _projection(patched: np.ndarray, base: np.ndarray, source: np.ndarray) -> float:
    diff = (source - base).reshape(len(base), -1)
    norm = np.linalg.norm(diff, axis=1, keepdims=True)
    direction = np.divide(diff, norm, out=np.zeros_like(diff), where=norm > 0)
    return float(((patched - base).reshape(len(base), -1) * direction).sum(1).mean())


def run(quick: bool = False) -> list[str]:
    model, data = tabular(trained=True, epochs=3 if quick else 10)
    n = 50 if quick else 200
    xb, xs = data.test.x[:n], data.test.x[n:2 * n]
    site = "encoder.1"
    units = cv.site_table(model)[[s.name for s in cv.site_table(model)].index(site)].shape[0]

    def approx() -> cv.AttributionResult:
        return cv.attribution_patch(model, xb, xs, sites=[site], check=0)

    def per_unit_loop() -> list[float]:
        out = []
        for u in range(units):
            r = cv.patch(model, xb, xs, site=site, units=[u], outcome="output")
            out.append(_projection(r.patched_output, r.base_output, r.source_output))
        return out

    def batched_exact() -> cv.AttributionResult:
        return cv.attribution_patch(model, xb, xs, sites=[site], check="all")

    t_approx = timeit(approx, repeats=5 if quick else 20, warmup=1)
    t_loop = timeit(per_unit_loop, repeats=1 if quick else 3, warmup=0)
    t_batched = timeit(batched_exact, repeats=2 if quick else 5, warmup=1)
    with torch.inference_mode():
        loop_effects = np.array(per_unit_loop())
    full = cv.attribution_patch(model, xb, xs, check="all")
    agree = float(np.max(np.abs(full.exact[site] - loop_effects)))
    lines = [
        "## 7. attribution patching, all units of a 256-unit site",
        "",
        "| what | time | ratio |",
        "|---|---|---|",
        f"| `attribution_patch(check=0)`, {units} units, N = {n} | {t_approx} | 1.0x |",
        f"| exact per-unit `cv.patch` loop ({units} calls) | {t_loop} | "
        f"**{t_loop.best / t_approx.best:.0f}x slower** |",
        f"| exact batched (`check='all'`, one row block per unit) | {t_batched} | "
        f"{t_batched.best / t_approx.best:.1f}x slower |",
        "",
        f"batched exact vs the per-unit loop: max |difference| {agree:.2e}",
        "",
        "| site | units | Spearman rho (approx vs exact, all units) | max abs error |",
        "|---|---|---|---|",
    ]
    for name in full.scores:
        lines.append(f"| {name} | {len(full.scores[name])} | {full.rank_correlation[name]:.3f} | "
                     f"{full.max_abs_error[name]:.2e} |")
    return lines
