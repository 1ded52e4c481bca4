"""Benchmark 1: ``cv.analyze`` of one trained tabular model against the bare batched forward
passes it needs (d = 10, N = 1000, K = 11), for ``metrics="interventional"`` (no fitted
estimator), for the full call, and for the full call with ``preset="fast"`` (LightGBM trees).

Every forward pass of the engine goes through :func:`circuitvae.hooks.run_unchecked` (the pass
behind :func:`circuitvae.run`, without its checks). The benchmark records each call (method and
input shape) during ``analyze``, then replays the same passes as bare ``encode``/``decode``
calls under ``torch.inference_mode``. Reported: analyze's wall time (the fastest of 5 calls for
the interventional metrics, one call for the full set), the time spent inside
``run_unchecked``, the bare replay (fastest of 5), and their ratios. What is neither is metric work
that is not a forward pass (the gradient-boosted trees of FGD and DCI, the logistic
regression of the AUC).
"""

from __future__ import annotations

import sys
import time

import torch

import circuitvae as cv
from circuitvae import hooks

from .common import timed
from .models import tabular


def _record_runs():
    calls: list[tuple[str, tuple[int, ...]]] = []
    spent = [0.0]
    original = hooks.run_unchecked

    def recording_run(model, x, *, method="reconstruct", **kw):
        start = time.perf_counter()
        try:
            return original(model, x, method=method, **kw)
        finally:
            spent[0] += time.perf_counter() - start
            calls.append((method, tuple(x.shape)))

    patched = [m for name, m in sys.modules.items()
               if name.startswith("circuitvae") and getattr(m, "run_unchecked", None) is original]
    for module in patched:
        module.run_unchecked = recording_run

    def restore():
        for module in patched:
            module.run_unchecked = original

    return calls, spent, restore


def _replay(model, calls):
    with torch.inference_mode():
        for method, shape in calls:
            x = torch.rand(shape)
            if method == "decode":
                model.decode(x)
            elif method == "encode":
                model.encode(x)
            else:
                model.decode(model.encode(x).mean)


def run(quick: bool = False) -> list[str]:
    model, data = tabular(trained=True)
    n = 300 if quick else 1000
    lines = []
    # warm-up: the first call pays one-time costs (site discovery, lazy imports, thread pools)
    cv.analyze(model, data, n=100, seed=0, k=3, metrics="interventional")
    for metrics, n_jobs, repeats, preset in (("interventional", 1, 5, "default"),
                                             ("all", 1, 1, "default"), ("all", 2, 1, "default"),
                                             ("all", 1, 1, "fast")):
        best = None
        for _ in range(repeats):  # the fastest of a few calls, as for the replay
            calls, spent, restore = _record_runs()
            start = time.perf_counter()
            try:
                row = cv.analyze(model, data, n=n, seed=0, k=11, n_jobs=n_jobs,
                                 metrics=metrics, preset=preset)
            finally:
                restore()
            total = time.perf_counter() - start
            if best is None or total < best[0]:
                best = (total, calls, spent)
        total, calls, spent = best
        replay = min(timed(lambda c=calls: _replay(model, c))[1] for _ in range(5))
        rows = sum(shape[0] for _, shape in calls)
        assert not row["skipped"].iloc[0], row["skipped"].iloc[0]
        lines.append(
            f"| analyze, metrics={metrics!r}, preset={preset!r}, tabular VAE d=10, N={n}, K=11, "
            f"n_jobs={n_jobs} | "
            f"{total:.2f} s total; {spent[0]:.2f} s in {len(calls)} engine passes ({rows} rows) "
            f"| bare replay {replay:.2f} s; engine/bare {spent[0] / replay:.2f}x; total/bare "
            f"{total / replay:.2f}x |")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
