"""``planted``: a synthetic mixed-type tabular dataset with known factors and feature groups.

Generative process [our choice]: K independent factors ``u_k ~ N(0, 1)``. Factor ``k`` drives only
its own group ``factor_k`` of features:

* numeric ``f{k}_num{i} = a_{k,i} * u_k + b_{k,i} + noise * eps`` (``|a|`` in [0.5, 1.5] with a
  random sign, ``b`` in [-1, 1], both drawn from ``seed``); groups of even ``k`` have 2 numeric
  features, odd ``k`` one;
* categorical ``f{k}_cat``: ``(u_k + noise * eps) / sqrt(1 + noise^2)`` cut at the standard-normal
  quantiles into ``n_levels`` equiprobable levels ``c0 < c1 < ...``.

``Split.factors`` holds ``u_k`` discretized into ``factor_bins`` equiprobable classes (thresholds at
the N(0, 1) quantiles); the raw values are in ``dataset.factor_values["train"|"test"]``. The label
is ``y = 1[u_0 + u_1 > 0]``. No files are read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from circuitvae.protocol import CircuitVAEError

from .tabular import RawTable, TabularDataset, build_tabular


def load_planted(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    n_factors: int = 4,
    noise: float = 0.3,
    n_levels: int = 3,
    factor_bins: int = 10,
) -> TabularDataset:
    """Generate the planted dataset (defaults: 5000 train and 1000 test rows, 4 factors)."""
    n_train = 5000 if n_train is None else n_train
    n_test = 1000 if n_test is None else n_test
    if n_factors < 1 or n_train < 2 or n_test < 1 or n_levels < 2 or factor_bins < 2:
        raise CircuitVAEError(
            "planted needs n_factors >= 1, n_train >= 2, n_test >= 1, n_levels >= 2 and "
            "factor_bins >= 2"
        )
    if noise < 0:
        raise CircuitVAEError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    u = rng.standard_normal((n, n_factors))
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    level_cuts = norm.ppf(np.linspace(0, 1, n_levels + 1)[1:-1])
    for k in range(n_factors):
        members = []
        for i in range(2 if k % 2 == 0 else 1):
            a = rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0])
            b = rng.uniform(-1.0, 1.0)
            name = f"f{k}_num{i}"
            columns[name] = a * u[:, k] + b + noise * rng.standard_normal(n)
            kinds[name] = "numeric"
            members.append(name)
        name = f"f{k}_cat"
        latent = (u[:, k] + noise * rng.standard_normal(n)) / np.sqrt(1 + noise**2)
        columns[name] = np.array([f"c{j}" for j in range(n_levels)])[
            np.searchsorted(level_cuts, latent)
        ]
        kinds[name] = "categorical"
        members.append(name)
        groups[f"factor_{k}"] = members
    bins = norm.ppf(np.linspace(0, 1, factor_bins + 1)[1:-1])
    factors = np.searchsorted(bins, u).astype(np.int64)
    y = (u[:, 0] + (u[:, 1] if n_factors > 1 else 0.0) > 0).astype(np.int64)
    is_test = np.zeros(n, dtype=bool)
    is_test[n_train:] = True
    provenance = {
        "source": "procedural",
        "generator": "circuitvae.zoo.data.planted",
        "params": {"seed": seed, "n_factors": n_factors, "noise": noise, "n_levels": n_levels,
                   "factor_bins": factor_bins},
        "split": "first n_train generated rows train, the next n_test test",
        "preprocessing": ["numeric: standardized with train-split mean/std",
                          "categorical: one-hot over train-split categories"],
    }
    return build_tabular(
        "planted", RawTable(pd.DataFrame(columns), y, is_test), kinds, groups, "label",
        provenance, seed=seed, factors=factors, factor_values=u,
        factor_names=tuple(f"u{k}" for k in range(n_factors)),
        factor_sizes=(factor_bins,) * n_factors,
    )
