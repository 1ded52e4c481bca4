"""circuitvae: mechanistic interpretability of variational autoencoders.

A hook engine (:mod:`circuitvae.hooks`) does causal interventions on any encoder/decoder;
adapters (:func:`wrap`) bring any VAE to it; metrics and studies are compositions of its two
primitives, :func:`capture` and :func:`patching`.
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .adapters import wrap
from .dataset import Dataset
from .hooks import Cache, Patch, RunResult, capture, patching, run, site_table, sites
from .interventions import (
    AttributionResult,
    LayerMediation,
    MediationResult,
    PatchResult,
    PathPatchResult,
    attribution_patch,
    mediate,
    mediation_by_layer,
    patch,
    path_patch,
    sigma_eff,
)
from .metrics import (
    CESResult,
    ModularityResult,
    SpecificityResult,
    analyze,
    ces,
    code_swap,
    downstream_auc,
    latent_activity,
    modularity,
    reconstruction,
    representation_function,
    specificity,
)
from .metrics.beta_vae_score import BetaVAEResult, beta_vae_score
from .metrics.dci import DCIResult, dci, dci_from_importance
from .metrics.factor_vae_score import FactorVAEResult, factor_vae_score
from .metrics.fgd import FGDResult, fgd, fgd_from_features, fgd_regroup
from .metrics.mig import MIGResult, mig
from .metrics.ridgeway import (
    ModularityExplicitnessResult,
    RidgewayModularityResult,
    modularity_explicitness,
    ridgeway_modularity,
)
from .metrics.sap import SAPResult, sap
from .protocol import (
    CircuitVAEError,
    DiscretePosterior,
    Feature,
    NotAVAEError,
    Posterior,
    Site,
    SiteError,
    Split,
    reconstruct,
)

__all__ = [
    "Cache",
    "Dataset",
    "CircuitVAEError",
    "DiscretePosterior",
    "Feature",
    "NotAVAEError",
    "Patch",
    "Posterior",
    "RunResult",
    "Site",
    "SiteError",
    "Split",
    "capture",
    "patching",
    "reconstruct",
    "run",
    "site_table",
    "sites",
    "wrap",
    "AttributionResult",
    "CESResult",
    "LayerMediation",
    "MediationResult",
    "ModularityResult",
    "PatchResult",
    "PathPatchResult",
    "SpecificityResult",
    "analyze",
    "attribution_patch",
    "ces",
    "code_swap",
    "downstream_auc",
    "latent_activity",
    "mediate",
    "mediation_by_layer",
    "modularity",
    "patch",
    "path_patch",
    "reconstruction",
    "sigma_eff",
    "specificity",
    "BetaVAEResult",
    "DCIResult",
    "FGDResult",
    "FactorVAEResult",
    "MIGResult",
    "ModularityExplicitnessResult",
    "RidgewayModularityResult",
    "SAPResult",
    "beta_vae_score",
    "dci",
    "dci_from_importance",
    "factor_vae_score",
    "fgd",
    "fgd_from_features",
    "fgd_regroup",
    "mig",
    "modularity_explicitness",
    "representation_function",
    "ridgeway_modularity",
    "sap",
]
