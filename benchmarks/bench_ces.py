"""Benchmarks 2 and 5: CES through the engine vs naive loops, and how its time scales.

2. ``cv.ces`` (a few large batched decodes) against (a) a Python loop with one decode per
   (latent, offset) over the row batch, (b) one decode per single intervention (latent, offset,
   row), and (c) one nnsight trace per (latent, offset). Target: the engine at least 20x faster
   than the per-intervention baselines.
5. Time of ``cv.ces`` as N, d and K grow: the log-log slope (1 = linear).
"""

from __future__ import annotations

import numpy as np
import torch

import circuitvae as cv
from circuitvae.zoo import build

from .common import timeit
from .models import tabular


def _offsets(model, x, k=11, r=3.0):
    res = cv.ces(model, x, calibrated=True, n=None, k=k, r=r)
    return torch.as_tensor(res.grid, dtype=torch.float32), res


def naive_per_latent_value(model, x, grid):
    with torch.inference_mode():
        mu = model.encode(x).mean
        base = model.decode(mu)
        total = 0.0
        for j in range(grid.shape[0]):
            for delta in grid[j]:
                z = mu.clone()
                z[:, j] += delta
                total += ((model.decode(z) - base) ** 2).mean(dim=1).sqrt().sum().item()
    return total


def naive_per_intervention(model, x, grid):
    with torch.inference_mode():
        mu = model.encode(x).mean
        base = model.decode(mu)
        total = 0.0
        for j in range(grid.shape[0]):
            for delta in grid[j]:
                for i in range(x.shape[0]):
                    z = mu[i : i + 1].clone()
                    z[0, j] += delta
                    total += ((model.decode(z) - base[i]) ** 2).mean().sqrt().item()
    return total


def nnsight_per_latent_value(model, x, grid):
    with torch.inference_mode():
        mu = model.encode(x).mean
        base = model.decode(mu)
    total = 0.0
    for j in range(grid.shape[0]):
        for delta in grid[j]:
            z = mu.clone()
            z[:, j] += delta
            out = cv.run(model, mu, method="decode", patches={"hook_z": z},
                         backend="nnsight").output
            total += ((out - base) ** 2).mean(dim=1).sqrt().sum().item()
    return total


def nnsight_per_intervention(model, x, grid, rows: int):
    """One nnsight trace per single intervention (latent, offset, row) on the first ``rows``."""
    with torch.inference_mode():
        mu = model.encode(x[:rows]).mean
        base = model.decode(mu)
    total = 0.0
    for j in range(grid.shape[0]):
        for delta in grid[j]:
            for i in range(rows):
                z = mu[i : i + 1].clone()
                z[0, j] += delta
                out = cv.run(model, mu[i : i + 1], method="decode", patches={"hook_z": z},
                             backend="nnsight").output
                total += ((out - base[i]) ** 2).mean().sqrt().item()
    return total


def run(quick: bool = False) -> list[str]:
    torch.manual_seed(0)
    model, data = tabular(trained=True)
    n = 100 if quick else 200
    x = data.test.x[:n]
    grid, res = _offsets(model, x)
    expected = res.value * grid.numel() * n
    assert abs(naive_per_latent_value(model, x, grid) - expected) < 1e-3 * expected
    repeats = 3 if quick else 5
    engine = timeit(lambda: cv.ces(model, x, n=None), repeats=repeats, warmup=1)
    loop = timeit(lambda: naive_per_latent_value(model, x, grid), repeats=repeats, warmup=1)
    per_int = timeit(lambda: naive_per_intervention(model, x, grid), repeats=1, warmup=0)
    nns = timeit(lambda: nnsight_per_latent_value(model, x, grid), repeats=1, warmup=1)
    sub = 5
    nns_one = timeit(lambda: nnsight_per_intervention(model, x, grid, sub), repeats=1, warmup=0)
    nns_one_full = nns_one.median * n / sub  # extrapolated to all N rows (linear in rows)
    d, k = grid.shape
    lines = [
        f"| CES engine, d={d}, K={k}, N={n} ({d * k * n} decodes) | {engine} | 1.0x |",
        f"| naive loop, one decode per (latent, offset) | {loop} | "
        f"{loop.median / engine.median:.1f}x slower |",
        f"| naive loop, one decode per intervention (latent, offset, row) | {per_int} | "
        f"{per_int.median / engine.median:.1f}x slower |",
        f"| one nnsight trace per (latent, offset) | {nns} | "
        f"{nns.median / engine.median:.1f}x slower |",
        f"| one nnsight trace per intervention (latent, offset, row; timed on {sub} rows, "
        f"scaled to {n}) | {nns_one_full:.2f} s | {nns_one_full / engine.median:.0f}x slower |",
    ]
    lines += scaling(quick)
    return lines


def scaling(quick: bool) -> list[str]:
    """Slope of log(time) against log(N), log(d) and log(K), the others held fixed."""
    out = []
    base = {"n": 500, "d": 10, "k": 11}
    axes = {"n": [250, 500, 1000, 2000], "d": [5, 10, 20, 40], "k": [5, 11, 21, 41]}
    if quick:
        axes = {key: vals[:3] for key, vals in axes.items()}
    for axis, values in axes.items():
        times = []
        for v in values:
            p = {**base, axis: v}
            model = build("vae", input_shape=(108,), latent_dim=p["d"], seed=0).eval()
            x = torch.randn(p["n"], 108)
            times.append(timeit(lambda m=model, x=x, k=p["k"]: cv.ces(m, x, n=None, k=k),
                                repeats=3, warmup=1).median)
        slope = np.polyfit(np.log(values), np.log(times), 1)[0]
        shown = ", ".join(f"{v}: {t * 1e3:.0f} ms" for v, t in zip(values, times, strict=True))
        out.append(f"| CES time vs {axis.upper()} ({shown}) | slope {slope:.2f} | |")
    return out


if __name__ == "__main__":
    print("\n".join(run()))
