"""Imputation of masked tabular entries by iterated reconstruction (methods.md section 11).

[ours; the review of the tabular paper asks for downstream tasks beyond logistic regression]

An *entry* is one feature of one row: a numeric column, or a categorical feature's whole
one-hot block. A seeded ``mask_fraction`` of the test entries (exactly
``round(mask_fraction * N * F)`` of the ``N * F``) is masked. The masked entries are filled
with the training split's mean (numeric) or mode (categorical). Then ``iterations`` times

    x <- x with its masked entries replaced by those of decode(mu(x))

where a categorical entry becomes the one-hot of its reconstructed block's argmax. Reported:

* ``rmse`` = sqrt(mean over masked numeric entries of (x_imputed - x_true)^2), in the data's
  (standardized) units, beside ``rmse_baseline`` = the same for the mean fill;
* ``accuracy`` = the share of masked categorical entries whose argmax is the true category,
  beside ``accuracy_baseline`` = the same for the mode fill.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..hooks import run_unchecked
from ..interventions.batching import chunk_rows, chunks
from ..protocol import (
    CircuitVAEError,
    DatasetLike,
    Feature,
    check_input,
    check_int,
    features_of,
    resolve_inputs,
)


@dataclass(frozen=True)
class ImputationResult:
    """RMSE (numeric) and accuracy (categorical) of the masked entries, beside the mean / mode
    fill; NaN for a kind the data does not have."""

    rmse: float
    rmse_baseline: float
    accuracy: float
    accuracy_baseline: float
    n_masked_numeric: int
    n_masked_categorical: int
    iterations: int


def entry_features(features: Sequence[Feature] | None, n_columns: int) -> list[Feature]:
    """The features of the rows: ``features``, or every column numeric when there are none."""
    if features:
        return list(features)
    return [Feature(str(c), "numeric", (c,)) for c in range(n_columns)]


def fill_values(x_train: Tensor, features: Sequence[Feature]) -> Tensor:
    """One row ``(D,)``: the training mean of each numeric column and the one-hot of each
    categorical feature's most frequent category."""
    fill = x_train.double().mean(0)
    for f in features:
        if f.kind == "categorical":
            cols = list(f.columns)
            block = torch.zeros(len(cols), dtype=fill.dtype, device=fill.device)
            block[int(x_train[:, cols].double().sum(0).argmax())] = 1.0
            fill[cols] = block
    return fill.to(x_train.dtype)


def entry_mask(n_rows: int, n_features: int, fraction: float, seed: int) -> np.ndarray:
    """``(n_rows, n_features)`` bool: exactly ``round(fraction * n_rows * n_features)``
    entries, drawn without replacement with ``numpy.random.default_rng(seed)``."""
    if not 0.0 < fraction < 1.0:
        raise CircuitVAEError(f"mask_fraction must be in (0, 1), got {fraction}")
    total = n_rows * n_features
    k = int(round(fraction * total))
    if k == 0:
        raise CircuitVAEError(f"mask_fraction {fraction} masks no entry of {n_rows} rows x "
                              f"{n_features} features; use more rows")
    mask = np.zeros(total, dtype=bool)
    mask[np.random.default_rng(seed).choice(total, size=k, replace=False)] = True
    return mask.reshape(n_rows, n_features)


def _reconstruct(model: Any, x: Tensor, max_batch_rows: int | None) -> Tensor:
    size = chunk_rows(max_batch_rows, model, x.shape[1])
    return torch.cat([run_unchecked(model, x[s]).output for s in chunks(x.shape[0], size)])


def _masked_entries(mask: np.ndarray, features: Sequence[Feature],
                    device: torch.device) -> Iterator[tuple[Feature, Tensor, list[int]]]:
    """``(feature, masked rows, its columns)`` for each feature with a masked entry."""
    for j, f in enumerate(features):
        rows = torch.as_tensor(np.flatnonzero(mask[:, j]), device=device)
        if rows.numel():
            yield f, rows, list(f.columns)


def _replace(x: Tensor, source: Tensor, mask: np.ndarray, features: Sequence[Feature]) -> Tensor:
    """``x`` with its masked entries taken from ``source`` (categorical: one-hot argmax)."""
    out = x.clone()
    for f, rows, cols in _masked_entries(mask, features, x.device):
        if f.kind == "numeric":
            out[rows, cols[0]] = source[rows, cols[0]].to(out.dtype)
        else:
            block = torch.zeros(rows.numel(), len(cols), dtype=out.dtype, device=out.device)
            block[torch.arange(rows.numel()), source[rows][:, cols].argmax(1)] = 1.0
            out[rows.unsqueeze(1), torch.as_tensor(cols, device=x.device)] = block
    return out


def _scores(x: Tensor, truth: Tensor, mask: np.ndarray,
            features: Sequence[Feature]) -> tuple[float, float, int, int]:
    sq, n_num, hits, n_cat = 0.0, 0, 0, 0
    for f, rows, cols in _masked_entries(mask, features, x.device):
        if f.kind == "numeric":
            sq += float(((x[rows, cols[0]] - truth[rows, cols[0]]).double() ** 2).sum())
            n_num += rows.numel()
        else:
            hits += int((x[rows][:, cols].argmax(1) == truth[rows][:, cols].argmax(1)).sum())
            n_cat += rows.numel()
    rmse = float(np.sqrt(sq / n_num)) if n_num else float("nan")
    accuracy = hits / n_cat if n_cat else float("nan")
    return rmse, accuracy, n_num, n_cat


def imputation_of_rows(model: Any, x: Tensor, x_train: Tensor,
                       features: Sequence[Feature] | None = None, *,
                       mask_fraction: float = 0.2, iterations: int = 5, seed: int = 0,
                       max_batch_rows: int | None = None) -> ImputationResult:
    """Imputation of checked rows ``x`` (see the module doc); ``x_train`` gives the fill."""
    check_int("iterations", iterations, minimum=1)
    check_int("seed", seed, minimum=0)
    if x.ndim != 2:
        raise CircuitVAEError(f"imputation needs tabular rows (N, D), got shape "
                              f"{tuple(x.shape)}")
    feats = entry_features(features, x.shape[1])
    mask = entry_mask(x.shape[0], len(feats), mask_fraction, seed)
    filled = _replace(x, fill_values(x_train, feats).expand_as(x), mask, feats)
    current = filled
    with torch.no_grad():
        for _ in range(iterations):
            current = _replace(current, _reconstruct(model, current, max_batch_rows), mask,
                               feats)
    rmse, acc, n_num, n_cat = _scores(current, x, mask, feats)
    rmse0, acc0, _, _ = _scores(filled, x, mask, feats)
    return ImputationResult(rmse, rmse0, acc, acc0, n_num, n_cat, iterations)


def imputation(model: Any, data: Any, *, n: int | None = None, mask_fraction: float = 0.2,
               iterations: int = 5, seed: int = 0,
               max_batch_rows: int | None = None) -> ImputationResult:
    """Impute a seeded ``mask_fraction`` of the test entries of ``data`` (a dataset with train
    and test splits) by ``iterations`` rounds of reconstruction; see the module doc.

    ``n``: test rows drawn with ``seed`` (None: the whole split).
    """
    if not isinstance(data, DatasetLike):
        raise CircuitVAEError("imputation needs a dataset with train and test splits (the fill "
                              "values are the training means and modes)")
    check_int("n", n, minimum=1, allow_none=True)
    x = resolve_inputs(data, model, n=n, seed=seed)
    x_train = check_input(model, data.train.x, name="train.x")
    return imputation_of_rows(model, x, x_train, features_of(data),
                              mask_fraction=mask_fraction, iterations=iterations, seed=seed,
                              max_batch_rows=max_batch_rows)
