"""Benchmark 11: per-unit factor selectivity, one joint count against a loop of sklearn calls.

``factor_selectivity`` needs the mutual information of every unit of a 500-unit layer with
every factor, at every landmark epoch of the sparsity study. The baseline is the loop the
function used before: one ``sklearn.metrics.mutual_info_score`` call per (unit, factor) on the
same binned activations. The two must agree (largest |difference| reported), and the ratio of
their times is measured in the same process.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

from circuitvae.metrics._discretize import histogram_discretize
from circuitvae.metrics.sparsity import mutual_info_columns

from .common import timeit


def _loop(binned: np.ndarray, factors: np.ndarray) -> np.ndarray:
    return np.array([[mutual_info_score(factors[:, k], binned[:, u])
                      for k in range(factors.shape[1])] for u in range(binned.shape[1])])


def _joint(binned: np.ndarray, factors: np.ndarray) -> np.ndarray:
    return np.stack([mutual_info_columns(binned, factors[:, k])
                     for k in range(factors.shape[1])], axis=1)


def run(quick: bool = False) -> list[str]:
    rng = np.random.default_rng(0)
    n, units = (500, 100) if quick else (1000, 500)
    acts = np.maximum(rng.normal(size=(n, units)), 0)
    factors = rng.integers(0, [3, 6, 40, 32, 32], size=(n, 5))
    binned = histogram_discretize(acts, 20).astype(np.int64)
    diff = float(np.abs(_loop(binned, factors) - _joint(binned, factors)).max())
    loop = timeit(lambda: _loop(binned, factors), repeats=3, warmup=1)
    joint = timeit(lambda: _joint(binned, factors), repeats=10, warmup=2)
    return ["## Benchmark 11: per-unit mutual information (factor selectivity)", "",
            f"{n} rows x {units} units x 5 factors (dSprites' factor sizes), 20 bins.", "",
            "| implementation | time | ratio |", "|---|---|---|",
            f"| loop of mutual_info_score (baseline) | {loop} | 1 |",
            f"| one joint bincount per factor | {joint} | "
            f"{loop.best / joint.best:.0f}x faster |", "",
            f"Largest |difference| between the two: {diff:.1e} nats.", ""]
