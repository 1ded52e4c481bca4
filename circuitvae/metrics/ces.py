"""Causal Effect Strength (CES): how much the output moves when one latent is moved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..interventions.latent import Scale, SweepStats
from ..protocol import check_choice
from .sweep_setup import calibrated_sweep


@dataclass(frozen=True)
class CESResult:
    """CES of a model. ``value`` = mean of ``per_latent`` (shape ``(d,)``); ``per_offset``
    ``(d, K)`` is the mean over rows at each offset of ``grid`` ``(d, K)``; ``sigma_eff`` ``(d,)``
    is the scale used (or that would be used) for calibration.

    With latent units (a spatial latent swept per channel) ``per_latent`` and ``per_offset``
    have one row per unit (U), ``grid`` ``(U, K)`` holds the offsets as multiples of each
    coordinate's scale (``r * linspace(-1, 1, K)``), and ``sigma_eff`` stays per coordinate
    ``(d,)``."""

    value: float
    per_latent: np.ndarray
    per_offset: np.ndarray
    grid: np.ndarray
    sigma_eff: np.ndarray
    calibrated: bool
    scale: str
    reduction: str
    n: int
    seed: int
    r: float
    k: int


def ces(
    model: Any,
    data: Any,
    calibrated: bool = True,
    *,
    n: int | None = 1000,
    seed: int = 0,
    r: float = 3.0,
    k: int = 11,
    scale: Scale = "means",
    reduction: Literal["rms", "l2"] = "rms",
    max_batch_rows: int | None = None,
    discrete_ok: bool = False,
    verbose: bool = False,
    latent_units: str = "auto",
) -> CESResult:
    """Causal Effect Strength.

    CES_j = mean over x in X and delta in the grid of
    RMS_P( D(mu(x) with z_j := mu_j(x) + delta) - D(mu(x)) ), and CES = mean_j CES_j.
    [paper] CES and its posterior calibration; [our choice] the per-element RMS over the P
    output elements (``reduction="l2"`` gives the L2 norm instead), the grid
    ``delta in r * linspace(-1, 1, K)`` (fixed) or ``sigma_eff_j * r * linspace(-1, 1, K)``
    (calibrated) with r = 3, K = 11, and ``sigma_eff`` = std over X of mu_j (``scale``; see
    :func:`circuitvae.interventions.latent.sigma_eff`).

    ``data``: a tensor/array of inputs, a Split or a dataset (its test split); ``n`` rows are
    drawn with ``seed`` (``None``: all). The sweep runs as a few batched decodes of at most
    ``max_batch_rows`` rows. A vector-quantized model warns unless ``discrete_ok=True``.

    Spatial latents ``(C, h, w)`` (e.g. diffusers' ``AutoencoderKL``): ``latent_units="auto"``
    follows the model (per channel for the diffusers adapter): CES_c moves all h * w positions
    of channel c together, each by its own sigma_eff times the grid; ``"element"`` sweeps every
    position on its own, ``"channel"`` forces channels. ``per_latent`` then has one entry per
    unit.
    """
    check_choice("reduction", reduction, ("rms", "l2"))
    swept = calibrated_sweep(model, data, calibrated=calibrated, n=n, seed=seed, r=r, k=k,
                             scale=scale, max_batch_rows=max_batch_rows,
                             discrete_ok=discrete_ok, verbose=verbose, what="CES",
                             latent_units=latent_units)
    return ces_of_sweep(swept.stats, swept.encoded.sigma_eff, calibrated=calibrated, scale=scale,
                        reduction=reduction, n=int(swept.encoded.x.shape[0]), seed=seed, r=r,
                        k=k)


def ces_of_sweep(
    stats: SweepStats,
    sigma: np.ndarray,
    *,
    calibrated: bool,
    scale: str,
    reduction: Literal["rms", "l2"],
    n: int,
    seed: int,
    r: float,
    k: int,
) -> CESResult:
    """The :class:`CESResult` of a sweep's statistics: CES_j = mean over the grid of the mean
    over rows of the RMS (or L2) output change; CES = mean_j CES_j."""
    per_offset = stats.rms if reduction == "rms" else stats.l2
    per_latent = per_offset.mean(axis=1)
    return CESResult(
        value=float(per_latent.mean()),
        per_latent=per_latent,
        per_offset=per_offset,
        grid=stats.grid,
        sigma_eff=sigma,
        calibrated=calibrated,
        scale=scale,
        reduction=reduction,
        n=n,
        seed=seed,
        r=float(r),
        k=int(k),
    )
