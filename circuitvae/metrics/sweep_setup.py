"""The setup every latent-sweep metric shares: rows -> encoding -> sigma_eff -> grid -> sweep.

:func:`calibrated_sweep` is what :func:`~circuitvae.metrics.ces.ces`,
:func:`~circuitvae.metrics.specificity.specificity` and the latent level of
:func:`~circuitvae.metrics.modularity.modularity` call; :func:`encode_rows` and :func:`sweep` are
its two halves, which :func:`~circuitvae.metrics.analyze.analyze` uses to share one encoding
between several sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from torch import Tensor

from ..interventions.batching import encode_all, warn_if_discrete
from ..interventions.latent import Scale, SweepStats, latent_sweep_unchecked, offset_grid, sigma_eff
from ..protocol import Posterior, resolve_inputs


@dataclass(frozen=True)
class Encoded:
    """Rows drawn from the data (``x``, checked), their posterior and ``sigma_eff`` ``(d,)``."""

    x: Tensor
    posterior: Posterior
    sigma_eff: np.ndarray

    @property
    def d(self) -> int:
        return int(self.posterior.mean.shape[1])


@dataclass(frozen=True)
class Swept:
    """A latent sweep of :class:`Encoded` rows: the offsets ``grid`` ``(d, K)`` and the
    statistics of :func:`~circuitvae.interventions.latent.latent_sweep`."""

    encoded: Encoded
    grid: np.ndarray
    stats: SweepStats


def encode_rows(
    model: Any,
    data: Any,
    *,
    n: int | None,
    seed: int,
    scale: Scale,
    max_batch_rows: int | None,
    discrete_ok: bool,
    what: str,
) -> Encoded:
    """``n`` rows of ``data`` drawn with ``seed`` (:func:`~circuitvae.protocol.resolve_inputs`),
    encoded once, with a warning for a vector-quantized model unless ``discrete_ok`` (``what``
    names the metric), and sigma_eff of ``scale``."""
    x = resolve_inputs(data, model, n=n, seed=seed)
    post = encode_all(model, x, max_batch_rows=max_batch_rows)
    # stack: warn_if_discrete <- encode_rows <- calibrated_sweep <- the metric <- its caller
    warn_if_discrete(model, post, discrete_ok, what, stacklevel=5)
    return Encoded(x, post, sigma_eff(posterior=post, scale=scale))


def sweep(
    model: Any,
    encoded: Encoded,
    *,
    r: float,
    k: int,
    calibrated: bool = True,
    capture: tuple[str, ...] = (),
    profile: Literal["abs", "signed"] = "abs",
    max_batch_rows: int | None = None,
    verbose: bool = False,
) -> Swept:
    """The sweep do(z_j = mu_j(x) + delta) of every latent over the grid
    ``delta in r * linspace(-1, 1, K)`` (fixed) or ``sigma_eff_j * r * linspace(-1, 1, K)``
    (``calibrated``), capturing the decoder sites ``capture`` (already validated)."""
    grid = offset_grid(encoded.d, k, r, encoded.sigma_eff if calibrated else None)
    stats = latent_sweep_unchecked(
        model, encoded.posterior.mean, grid, capture=capture, profile=profile,
        max_batch_rows=max_batch_rows, verbose=verbose,
    )
    return Swept(encoded, grid, stats)


def calibrated_sweep(
    model: Any,
    data: Any,
    *,
    calibrated: bool = True,
    n: int | None,
    seed: int,
    r: float,
    k: int,
    scale: Scale,
    capture: tuple[str, ...] = (),
    profile: Literal["abs", "signed"] = "abs",
    max_batch_rows: int | None,
    discrete_ok: bool,
    verbose: bool,
    what: str,
) -> Swept:
    """:func:`encode_rows` then :func:`sweep`: resolve -> encode -> warn if discrete ->
    sigma_eff -> grid -> sweep."""
    encoded = encode_rows(model, data, n=n, seed=seed, scale=scale,
                          max_batch_rows=max_batch_rows, discrete_ok=discrete_ok, what=what)
    return sweep(model, encoded, r=r, k=k, calibrated=calibrated, capture=capture,
                 profile=profile, max_batch_rows=max_batch_rows, verbose=verbose)
