"""The papers' studies as plug-ins of :mod:`circuitvae.study`: one module per study.

Each module defines ``STUDY``, a :class:`circuitvae.study.Study`, registered under its name in
the ``circuitvae.studies`` entry points (pyproject.toml), so ``circuitvae study run tabular``
finds it. The tabular and image studies share their task and settings (:mod:`.train_analyze`).
"""

from __future__ import annotations

from .ablations import BETA_ABLATION, LATENT_ABLATION
from .anomaly import STUDY as ANOMALY
from .image import STUDY as IMAGE
from .sparsity import STUDY as SPARSITY
from .tabular import STUDY as TABULAR
from .train_analyze import DOMAIN, TrainAnalyzeSettings, prepare_data, train_and_analyze

STUDIES = {s.name: s for s in (TABULAR, IMAGE, SPARSITY, BETA_ABLATION, LATENT_ABLATION,
                                ANOMALY)}

__all__ = ["ANOMALY", "BETA_ABLATION", "DOMAIN", "IMAGE", "LATENT_ABLATION", "SPARSITY", "STUDIES",
           "TABULAR", "TrainAnalyzeSettings", "prepare_data", "train_and_analyze"]
