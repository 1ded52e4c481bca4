"""Circuit modularity: do different factors/groups drive different hidden units?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..interventions.batching import hidden_sites, select_sites
from ..interventions.input import GroupSpec, activation_profiles_unchecked, manipulations
from ..interventions.latent import Scale
from ..protocol import CircuitVAEError, check_choice, pending_discovery, resolve_inputs
from .sweep_setup import calibrated_sweep, check_sweep_args


@dataclass(frozen=True)
class ModularityResult:
    """``value``: the model's modularity; ``per_layer``: site -> the same formula on that
    site's units alone (NaN where undefined); ``profiles``: site -> ``(G, units)`` profiles
    (empty for ``method="ridgeway"``); ``groups``: the G names; settings echo the call."""

    value: float
    per_layer: dict[str, float]
    groups: tuple[str, ...]
    method: str
    profile: str
    layers: str
    level: str
    grouping: str
    n: int
    seed: int
    profiles: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def profile_modularity(profiles: np.ndarray) -> float:
    """1 - mean over pairs g < g' of |pearson(a_g, a_g')| for the rows of ``profiles`` (G, U).

    Pairs where a profile is constant (correlation undefined) are left out; NaN when no pair is
    defined.
    """
    a = np.asarray(profiles, dtype=np.float64)
    if a.shape[0] < 2:
        raise CircuitVAEError(f"modularity needs at least 2 groups, got {a.shape[0]}")
    centered = a - a.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centered, axis=1)
    scale = np.abs(a).max(axis=1) * np.sqrt(a.shape[1]) + 1e-300
    ok = norms > 1e-12 * scale
    vals = []
    for g in range(a.shape[0]):
        for h in range(g + 1, a.shape[0]):
            if ok[g] and ok[h]:
                vals.append(abs(centered[g] @ centered[h]) / (norms[g] * norms[h]))
    return float(1.0 - np.mean(vals)) if vals else float("nan")


def modularity(
    model: Any,
    data: Any,
    groups: GroupSpec | list[int] = None,
    *,
    method: Literal["pearson", "ridgeway"] = "pearson",
    profile: Literal["abs", "signed"] = "abs",
    layers: Literal["all", "encoder", "decoder"] = "all",
    level: Literal["group", "latent"] = "group",
    sites: list[str] | None = None,
    n: int | None = 1000,
    seed: int = 0,
    r: float = 3.0,
    k: int = 11,
    scale: Scale = "means",
    max_batch_rows: int | None = None,
    discrete_ok: bool = False,
    verbose: bool = False,
) -> ModularityResult:
    """Circuit modularity.

    ``method="pearson"`` (default) [our choice; the papers name the metric and report that it
    depends on the grouping, **the exact definition is uncertain**]:
    Modularity = 1 - mean over pairs g < g' of |pearson(a_g, a_g')|, where a_g is the
    activation-change profile of group g over the hidden units (:func:`hidden_sites` of
    ``layers``, concatenated; ``per_layer`` gives each site alone).

    * ``level="group"``: a_g from the input manipulation of level 1 (tabular: swap group g's
      columns with another row's; images: resample ground-truth factor g), ``profile="abs"``
      mean |delta activation| or ``"signed"`` mean delta activation;
    * ``level="latent"``: a_j from the calibrated latent sweep of z_j (the CES sweep), over the
      decoder hidden units (the encoder does not respond to a latent intervention), correlated
      over latent pairs.

    ``groups``: ``"semantic"``, ``"correlation"``, ``"random"`` (resolved by the dataset's
    ``group_columns``), a mapping name -> columns, or for factor datasets ``None``/``"factors"``
    or a list of factor indices. ``None`` means factors for factor datasets, else semantic.

    ``method="ridgeway"`` [paper: Ridgeway & Mozer 2018]: the Ridgeway-Mozer modularity of the
    latent-by-output-group effect matrix e_{j,g} of :func:`circuitvae.specificity` (computed by
    ``circuitvae.metrics.ridgeway.ridgeway_modularity``); ``per_layer`` is empty.
    """
    check_choice("method", method, ("pearson", "ridgeway"))
    check_choice("profile", profile, ("abs", "signed"))
    check_choice("layers", layers, ("all", "encoder", "decoder"))
    check_choice("level", level, ("group", "latent"))
    check_sweep_args(n=n, seed=seed, r=r, k=k, scale=scale, max_batch_rows=max_batch_rows,
                     discrete_ok=discrete_ok, verbose=verbose)
    if sites is not None and (isinstance(sites, str) or not all(
            isinstance(name, str) for name in sites)):
        raise CircuitVAEError(f"sites must be a list of site names or None, got {sites!r}")
    if method == "ridgeway":
        return _ridgeway(model, data, groups, n=n, seed=seed, r=r, k=k, scale=scale,
                         max_batch_rows=max_batch_rows, discrete_ok=discrete_ok,
                         verbose=verbose)
    if method != "pearson":
        raise CircuitVAEError(f"method must be 'pearson' or 'ridgeway', got {method!r}")
    if profile not in ("abs", "signed"):
        raise CircuitVAEError(f"profile must be 'abs' or 'signed', got {profile!r}")
    if level == "group":
        if pending_discovery(model):  # a lazily wrapped model learns its sites from the data
            resolve_inputs(data, model, n=1)
        chosen = select_sites(model, sites, hidden_sites(model, layers))  # sites first
        x, variants = manipulations(model, data, groups, n=n, seed=seed)
        prof = activation_profiles_unchecked(
            model, x, variants, sites=[s.name for s in chosen], profile=profile,
            max_batch_rows=max_batch_rows, verbose=verbose,
        )
        per_site, names, n_rows = prof.per_site, prof.groups, x.shape[0]
    elif level == "latent":
        if layers == "encoder":
            raise CircuitVAEError(
                "level='latent' profiles come from latent interventions, which reach only the "
                "decoder; use layers='decoder' or 'all'"
            )
        chosen = select_sites(model, sites, hidden_sites(model, "decoder"))
        swept = calibrated_sweep(
            model, data, n=n, seed=seed, r=r, k=k, scale=scale,
            capture=tuple(s.name for s in chosen), profile=profile,
            max_batch_rows=max_batch_rows, discrete_ok=discrete_ok, verbose=verbose,
            what="modularity",
        )
        per_site, n_rows = swept.stats.activations, swept.encoded.x.shape[0]
        units = swept.grid.shape[0]  # latents, or latent units (channels of a spatial latent)
        names = tuple(f"z{j}" if units == swept.encoded.d else f"unit{j}" for j in range(units))
    else:
        raise CircuitVAEError(f"level must be 'group' or 'latent', got {level!r}")
    order = [s.name for s in chosen]
    if not order:
        raise CircuitVAEError(f"the model has no hidden sites in layers={layers!r}")
    value = profile_modularity(np.concatenate([per_site[s] for s in order], axis=1))
    per_layer = {s: profile_modularity(per_site[s]) for s in order}
    return ModularityResult(
        value=value, per_layer=per_layer, groups=tuple(names), method=method, profile=profile,
        layers=layers, level=level, grouping=_grouping_name(groups), n=int(n_rows), seed=seed,
        profiles={s: per_site[s] for s in order},
    )


def _grouping_name(groups: Any) -> str:
    if groups is None or isinstance(groups, str):
        return str(groups if groups is not None else "default")
    return "custom"


def _ridgeway(model: Any, data: Any, groups: Any, **kw: Any) -> ModularityResult:
    from .ridgeway import ridgeway_modularity
    from .specificity import specificity

    spec = specificity(model, data, groups, **kw)
    value = ridgeway_modularity(spec.effects).value
    return ModularityResult(
        value=value, per_layer={}, groups=spec.groups, method="ridgeway", profile="-",
        layers="-", level="latent", grouping=_grouping_name(groups), n=spec.n, seed=spec.seed,
    )
