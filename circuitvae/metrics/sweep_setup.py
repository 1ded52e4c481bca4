"""The setup every latent-sweep metric shares: rows -> encoding -> sigma_eff -> grid -> sweep.

:func:`calibrated_sweep` is what :func:`~circuitvae.metrics.ces.ces`,
:func:`~circuitvae.metrics.specificity.specificity` and the latent level of
:func:`~circuitvae.metrics.modularity.modularity` call; :func:`encode_rows` and :func:`sweep` are
its two halves, which :func:`~circuitvae.metrics.analyze.analyze` uses to share one encoding
between several sweeps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from torch import Tensor

from ..interventions.batching import encode_all, warn_if_discrete
from ..interventions.latent import (
    LATENT_UNITS,
    SCALES,
    Scale,
    SweepStats,
    latent_sweep_unchecked,
    latent_unit_groups,
    offset_grid,
    sigma_eff,
)
from ..protocol import (
    CircuitVAEError,
    Posterior,
    check_bool,
    check_choice,
    check_int,
    check_positive_real,
    resolve_inputs,
)


def check_sweep_args(*, n: Any, seed: Any, r: Any, k: Any, scale: Any,
                     max_batch_rows: Any, discrete_ok: Any = False, verbose: Any = False,
                     n_allows_none: bool = True) -> None:
    """The checks at the door of every latent-sweep metric: ``n`` an integer >= 1 (or
    ``None``), ``seed`` an integer >= 0, ``r`` finite > 0, ``k`` an integer >= 2, ``scale`` one
    of :data:`~circuitvae.interventions.latent.SCALES`, ``max_batch_rows`` an integer >= 1 or
    ``None``, the flags bools."""
    check_int("n", n, minimum=1, allow_none=n_allows_none)
    check_int("seed", seed, minimum=0)
    check_positive_real("r", r)
    check_int("k (grid size)", k, minimum=2)
    check_choice("scale", scale, SCALES)
    check_int("max_batch_rows", max_batch_rows, minimum=1, allow_none=True)
    check_bool("discrete_ok", discrete_ok)
    check_bool("verbose", verbose)


def check_encoding(model: Any, x: Tensor, post: Posterior, sigma: np.ndarray, *,
                   calibrated: bool, scale: str, what: str) -> None:
    """Degenerate data for a sweep: fewer than 2 rows for a calibrated sweep (sigma_eff over
    one row is 0: the sweep would be rounding noise), a non-finite sigma_eff (the encoding
    overflowed), and a warning for latents whose sigma_eff is exactly 0."""
    rows = int(x.shape[0])
    if calibrated and scale != "prior" and rows < 2:
        raise CircuitVAEError(
            f"{what}: the calibrated sweep needs at least 2 rows, got {rows}: sigma_eff "
            f"(scale={scale!r}) over one row is 0, so the sweep would measure rounding noise; "
            "pass more rows, or calibrated=False / scale='prior'")
    if not np.isfinite(sigma).all():
        bad = np.flatnonzero(~np.isfinite(sigma)).tolist()
        raise CircuitVAEError(
            f"{what}: sigma_eff is not finite for latent(s) {bad[:10]}: "
            f"{type(model).__name__}.encode overflowed (non-finite posterior) on these inputs; "
            "rescale the inputs")
    if calibrated:
        zero = np.flatnonzero(sigma == 0).tolist()
        if zero:
            warnings.warn(
                f"{what}: sigma_eff (scale={scale!r}) is 0 for latent(s) {zero[:10]} (their "
                "code does not vary over the rows): their calibrated sweep has zero range and "
                "their effect is 0", UserWarning, stacklevel=5)


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
    calibrated: bool = True,
) -> Encoded:
    """``n`` rows of ``data`` drawn with ``seed`` (:func:`~circuitvae.protocol.resolve_inputs`),
    encoded once, with a warning for a vector-quantized model unless ``discrete_ok`` (``what``
    names the metric), and sigma_eff of ``scale``."""
    x = resolve_inputs(data, model, n=n, seed=seed)
    post = encode_all(model, x, max_batch_rows=max_batch_rows)
    # stack: warn_if_discrete <- encode_rows <- calibrated_sweep <- the metric <- its caller
    warn_if_discrete(model, post, discrete_ok, what, stacklevel=5)
    sigma = sigma_eff(posterior=post, scale=scale)
    check_encoding(model, x, post, sigma, calibrated=calibrated, scale=scale, what=what)
    return Encoded(x, post, sigma)


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
    latent_units: str = "auto",
) -> Swept:
    """The sweep do(z_j = mu_j(x) + delta) of every latent over the grid
    ``delta in r * linspace(-1, 1, K)`` (fixed) or ``sigma_eff_j * r * linspace(-1, 1, K)``
    (``calibrated``), capturing the decoder sites ``capture`` (already validated).

    Spatial latents (``latent_units``, :func:`~circuitvae.interventions.latent.
    latent_unit_groups`): a unit (a channel) moves as a whole, each of its coordinates i by
    ``r * linspace(-1, 1, K)`` times sigma_eff_i (calibrated) or 1 (fixed); ``grid`` is then
    ``(U, K)`` in those multiples."""
    units = latent_unit_groups(model, encoded.d, latent_units)
    if units is not None:
        grid = offset_grid(len(units), k, r)
        stats = latent_sweep_unchecked(
            model, encoded.posterior.mean, grid, capture=capture, profile=profile,
            max_batch_rows=max_batch_rows, verbose=verbose, units=units,
            unit_scale=encoded.sigma_eff if calibrated else None)
        return Swept(encoded, grid, stats)
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
    latent_units: str = "auto",
) -> Swept:
    """:func:`encode_rows` then :func:`sweep`: resolve -> encode -> warn if discrete ->
    sigma_eff -> grid -> sweep."""
    check_choice("latent_units", latent_units, LATENT_UNITS)
    check_sweep_args(n=n, seed=seed, r=r, k=k, scale=scale, max_batch_rows=max_batch_rows,
                     discrete_ok=discrete_ok, verbose=verbose)
    check_bool("calibrated", calibrated)
    encoded = encode_rows(model, data, n=n, seed=seed, scale=scale,
                          max_batch_rows=max_batch_rows, discrete_ok=discrete_ok, what=what,
                          calibrated=calibrated)
    return sweep(model, encoded, r=r, k=k, calibrated=calibrated, capture=capture,
                 profile=profile, max_batch_rows=max_batch_rows, verbose=verbose,
                 latent_units=latent_units)
