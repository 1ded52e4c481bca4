"""Intervention specificity: does moving one latent change one output group, or all of them?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..interventions.input import GroupSpec, resolve_groups
from ..interventions.latent import Scale
from ..protocol import CircuitVAEError, ColumnGroups, check_choice
from .sweep_setup import calibrated_sweep


@dataclass(frozen=True)
class SpecificityResult:
    """``value``: effect-weighted mean of ``per_latent`` ``(d,)``; ``effects`` ``(d, G)`` is
    e_{j,g}; ``weights`` ``(d,)`` = sum_g e_{j,g}; ``groups`` names the G output groups."""

    value: float
    per_latent: np.ndarray
    effects: np.ndarray
    weights: np.ndarray
    groups: tuple[str, ...]
    group_reduce: str
    n: int
    seed: int
    r: float
    k: int
    scale: str


def specificity_from_effects(effects: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(model value, per-latent values, weights) from an effect matrix ``(d, G)``.

    spec_j = 1 - H(p_j) / log G with p_j = e_j / sum_g e_{j,g}; a latent with no effect at all
    gets NaN and weight 0. Model value = sum_j w_j spec_j / sum_j w_j with w_j = sum_g e_{j,g}.
    """
    effects = np.asarray(effects, dtype=np.float64)
    g = effects.shape[1]
    if g < 2:
        raise CircuitVAEError("specificity needs at least 2 output groups (log G = 0 otherwise)")
    weights = effects.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = effects / weights[:, None]
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        entropy = -plogp.sum(axis=1)
        per_latent = np.where(weights > 0, 1.0 - entropy / np.log(g), np.nan)
    total = weights.sum()
    value = float(np.nansum(per_latent * weights) / total) if total > 0 else float("nan")
    return value, per_latent, weights


def group_effects(sq: np.ndarray, groups: ColumnGroups, reduce: str = "mean") -> np.ndarray:
    """e_{j,g} from the per-element mean squared change ``sq`` ``(d, P)``: the mean (or sum)
    over the group's columns."""
    if reduce not in ("mean", "sum"):
        raise CircuitVAEError(f"group_reduce must be 'mean' or 'sum', got {reduce!r}")
    op = np.mean if reduce == "mean" else np.sum
    return np.stack([op(sq[:, list(cols)], axis=1) for cols in groups.columns], axis=1)


def specificity(
    model: Any,
    data: Any,
    groups: GroupSpec = None,
    *,
    n: int | None = 1000,
    seed: int = 0,
    r: float = 3.0,
    k: int = 11,
    scale: Scale = "means",
    group_reduce: Literal["mean", "sum"] = "mean",
    max_batch_rows: int | None = None,
    discrete_ok: bool = False,
    verbose: bool = False,
    latent_units: str = "auto",
) -> SpecificityResult:
    """Intervention specificity.

    spec_j = 1 - H(p_j) / log G, p_j = e_j / sum_g e_{j,g}, where e_{j,g} is the mean squared
    output change in output group g under the calibrated sweep of z_j (the CES sweep:
    do(z_j = mu_j(x) + delta), delta in sigma_eff_j * r * linspace(-1, 1, K)). Model value =
    effect-weighted mean over latents, weights sum_g e_{j,g}. [our choice] throughout (the
    papers name the metric but not its formula).

    Output groups (``groups``): ``None`` -> the dataset's semantic feature groups when it has
    features (a categorical's one-hot block is inside one group, so it counts once), else every
    output element is a group (images, G = P); or any spec of
    :func:`circuitvae.interventions.input.resolve_groups`. ``group_reduce="mean"`` (default,
    [our choice]) averages the squared change over a group's columns, ``"sum"`` adds it.
    ``latent_units`` as in :func:`circuitvae.metrics.ces.ces` (spatial latents: per channel).
    """
    check_choice("group_reduce", group_reduce, ("mean", "sum"))
    swept = calibrated_sweep(model, data, n=n, seed=seed, r=r, k=k, scale=scale,
                             max_batch_rows=max_batch_rows, discrete_ok=discrete_ok,
                             verbose=verbose, what="specificity", latent_units=latent_units)
    stats = swept.stats
    cg = resolve_groups(data, groups, stats.sq.shape[1], seed=seed)
    effects = group_effects(stats.sq, cg, group_reduce)
    value, per_latent, weights = specificity_from_effects(effects)
    return SpecificityResult(
        value=value,
        per_latent=per_latent,
        effects=effects,
        weights=weights,
        groups=cg.names,
        group_reduce=group_reduce,
        n=int(swept.encoded.x.shape[0]),
        seed=seed,
        r=float(r),
        k=int(k),
        scale=scale,
    )
