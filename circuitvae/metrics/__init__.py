"""Metrics: pure functions over a model and data, returning small frozen dataclasses.

Causal metrics (built on the intervention levels): :func:`ces`, :func:`specificity`,
:func:`modularity`, :func:`code_swap` (VQ models). Model quality: :func:`reconstruction`,
:func:`downstream_auc`, :func:`latent_activity` (training adequacy: active latent
dimensions). Disentanglement scores (reference ports): :mod:`.dci`, :mod:`.mig`,
:mod:`.sap`, :mod:`.factor_vae_score`, :mod:`.beta_vae_score`, :mod:`.fgd`, :mod:`.ridgeway`.
:func:`analyze` runs them all for one model.
"""

from ._ground_truth import representation_function
from .adequacy import LatentActivity, latent_activity
from .analyze import COLUMNS, INTERVENTIONAL, METRIC_COLUMNS, STEP_TABLE, STEPS, analyze
from .ces import CESResult, ces
from .discrete import CodeSwapResult, code_swap
from .downstream import DownstreamResult, downstream_auc
from .modularity import ModularityResult, modularity, profile_modularity
from .reconstruction import ReconstructionResult, reconstruction
from .specificity import SpecificityResult, specificity, specificity_from_effects

__all__ = [
    "COLUMNS",
    "INTERVENTIONAL",
    "METRIC_COLUMNS",
    "STEPS",
    "STEP_TABLE",
    "CESResult",
    "CodeSwapResult",
    "LatentActivity",
    "DownstreamResult",
    "ModularityResult",
    "ReconstructionResult",
    "SpecificityResult",
    "analyze",
    "ces",
    "code_swap",
    "downstream_auc",
    "latent_activity",
    "modularity",
    "profile_modularity",
    "reconstruction",
    "representation_function",
    "specificity",
    "specificity_from_effects",
]
