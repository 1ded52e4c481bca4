"""Discretizers for codes before mutual-information estimates (MIG, Ridgeway & Mozer modularity).

Arrays are row-major as in scikit-learn: ``codes`` is ``(N, d)``. disentanglement_lib stores the
transpose ``(d, N)``; the per-dimension computation is the same.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..protocol import CircuitVAEError, check_int

Discretizer = Literal["histogram", "identity"]


def histogram_discretize(codes: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Bin each code dimension into ``n_bins`` equal-width bins over its own range.

    ``out[:, j] = np.digitize(codes[:, j], np.histogram(codes[:, j], n_bins)[1][:-1])``, the
    ``_histogram_discretize`` of disentanglement_lib [paper: Locatello et al. 2019 code]. Bin
    labels run from 1 to ``n_bins``; the column maximum falls in the last bin. Like the
    reference, the labels keep the input dtype (``np.zeros_like``).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise CircuitVAEError(f"codes must be 2-D (N, d), got shape {codes.shape}")
    n_bins = check_int("n_bins", n_bins, minimum=1)
    out = np.zeros_like(codes)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], n_bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def discretize(codes: np.ndarray, discretizer: Discretizer = "histogram", n_bins: int = 20):
    """Apply the named discretizer: ``"histogram"`` (the study default) or ``"identity"``.

    ``"identity"`` returns the codes unchanged; it is what disentanglement_lib's unit tests use
    on already-discrete codes (e.g. codes equal to integer factors).
    """
    if discretizer == "histogram":
        return histogram_discretize(codes, n_bins)
    if discretizer == "identity":
        return np.asarray(codes)
    raise CircuitVAEError(f"unknown discretizer {discretizer!r}; choose 'histogram' or 'identity'")
