"""The disentanglement metrics are exported at the package top level."""

from __future__ import annotations

import circuitvae as cv
from circuitvae.metrics import dci as dci_module
from circuitvae.metrics import fgd as fgd_module


def test_top_level_names():
    for name in (
        "dci",
        "dci_from_importance",
        "mig",
        "sap",
        "factor_vae_score",
        "beta_vae_score",
        "fgd",
        "fgd_from_features",
        "ridgeway_modularity",
        "modularity_explicitness",
        "representation_function",
    ):
        assert name in cv.__all__
    assert cv.dci is dci_module.dci
    assert cv.fgd is fgd_module.fgd
