"""The four intervention levels, all built on :mod:`circuitvae.hooks`.

1. :mod:`.input` -- input manipulation (feature-group swaps, factor resampling, responses);
2. :mod:`.latent` -- latent perturbation (sigma_eff, sweep grids, batched latent sweeps);
3. :mod:`.patching` -- activation patching and path-specific (telescoping) patching;
   :mod:`.attribution` -- its first-order approximation for every unit at once;
4. :mod:`.mediation` -- causal mediation and the layer-saturation report.

:mod:`.batching` holds what they share (chunked passes, the one encode path, site selection).
Each public function checks its inputs once; its passes run unchecked
(:func:`circuitvae.hooks.run_unchecked`).
"""

from .attribution import AttributionResult, attribution_patch
from .input import (
    Profiles,
    Responses,
    activation_profiles,
    manipulations,
    random_grouping,
    resample_factor,
    resolve_groups,
    responses,
    swap_group,
)
from .latent import SweepStats, latent_sweep, offset_grid, sigma_eff, traversal
from .mediation import LayerMediation, MediationResult, mediate, mediation_by_layer
from .patching import PatchResult, PathPatchResult, patch, path_patch

__all__ = [
    "AttributionResult",
    "LayerMediation",
    "MediationResult",
    "PatchResult",
    "PathPatchResult",
    "Profiles",
    "Responses",
    "SweepStats",
    "activation_profiles",
    "attribution_patch",
    "latent_sweep",
    "manipulations",
    "mediate",
    "mediation_by_layer",
    "offset_grid",
    "patch",
    "path_patch",
    "random_grouping",
    "resample_factor",
    "resolve_groups",
    "responses",
    "sigma_eff",
    "swap_group",
    "traversal",
]
