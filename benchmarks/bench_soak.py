"""Benchmark 10: soak. 500 consecutive ``cv.analyze(metrics="interventional")`` calls on one
model keep memory flat: no hook, cache or autograd graph is left behind.

Model: a zoo VAE trained briefly on Adult; each call analyses 200 test rows (K = 11). Measured:
the resident set size (current, from ``/proc/self/statm``, not the peak) after calls 50, 100,
..., 500, after a ``gc.collect()``; the number of live tensors the garbage collector tracks;
and whether any site module still carries a stand-in ``forward`` (a hook left installed).
Reported: RSS growth from call 50 to call 500 and its slope. ``cv.attribution_patch`` (which
keeps a graph for its backward pass) is soaked the same way, 200 calls. A flat line is a
growth within the allocator's noise, a few MiB.
"""

from __future__ import annotations

import gc
import os
import warnings

import torch

import circuitvae as cv
from circuitvae.sitemap import site_modules

from .models import tabular


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _live_tensors() -> int:
    with warnings.catch_warnings():  # isinstance() touches torch's deprecated module aliases
        warnings.simplefilter("ignore")
        return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))


def _stand_ins(model) -> int:
    return sum("forward" in m.__dict__ for m in site_modules(model).values())


def _soak(fn, calls: int, every: int) -> list[tuple[int, float, int]]:
    marks = []
    for i in range(1, calls + 1):
        fn()
        if i % every == 0:
            gc.collect()
            marks.append((i, _rss_mb(), _live_tensors()))
    return marks


def run(quick: bool = False) -> list[str]:
    model, data = tabular(trained=True, epochs=2)
    x = data.test.x[:200]
    calls, every = (60, 20) if quick else (500, 50)

    def analyze() -> None:
        cv.analyze(model, data, n=200, seed=0, metrics="interventional")

    def attribution() -> None:
        cv.attribution_patch(model, x[:100], x[100:], check=5)

    lines = ["## 10. soak: memory over repeated calls", "",
             "| what | calls | RSS at first mark -> last (MiB) | growth per 100 calls | "
             "live tensors first -> last | stand-in forwards left |",
             "|---|---|---|---|---|---|"]
    for label, fn, n in (("cv.analyze(metrics='interventional'), N = 200", analyze, calls),
                         ("cv.attribution_patch, 100 pairs, check=5", attribution,
                          calls * 2 // 5)):
        fn()  # warm-up: lazy imports, the site table, thread pools
        marks = _soak(fn, n, max(1, every * n // calls))
        (i0, rss0, t0), (i1, rss1, t1) = marks[0], marks[-1]
        slope = (rss1 - rss0) / max(1, i1 - i0) * 100
        lines.append(f"| {label} | {n} | {rss0:.1f} -> {rss1:.1f} | {slope:+.2f} MiB | "
                     f"{t0} -> {t1} | {_stand_ins(model)} |")
    return lines
