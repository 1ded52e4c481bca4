"""The analysis context: what the steps of :func:`~circuitvae.metrics.analyze.analyze` share.

One :class:`AnalysisContext` per call samples the rows once (``n`` rows of the test split drawn
with ``seed``), encodes them once and computes sigma_eff once; the sweeps and the rest are
computed on first use and kept, so the calibrated sweep feeds CES, specificity, the latent-level
and the Ridgeway modularity, and the sampled rows feed every grouping of the input
manipulations, FGD, DCI/MIG/SAP, the reconstruction error and the code swaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from torch import Tensor

from ..interventions.batching import chunk_rows, encode_all, hidden_sites
from ..interventions.input import factor_manipulations, group_manipulations, uses_factors
from ..interventions.latent import Scale, SweepStats, sigma_eff
from ..protocol import DiscretePosterior, Posterior, Site, resolve_inputs
from .sweep_setup import Encoded, check_encoding, sweep

#: the columns computed from a latent sweep (they need 2+ rows for sigma_eff)
SWEEP_COLUMNS = frozenset({
    "ces_calibrated", "ces_fixed", "sigma_eff_mean", "ces_calibrated_total",
    "ces_calibrated_posterior", "specificity", "specificity_total", "specificity_posterior",
    "modularity_latent", "modularity_ridgeway",
})


@dataclass(frozen=True)
class AnalysisOptions:
    """The settings of one :func:`~circuitvae.metrics.analyze.analyze` call (see there)."""

    n: int = 1000
    seed: int = 0
    r: float = 3.0
    k: int = 11
    scale: Scale = "means"
    n_score_train: int = 10000
    n_score_eval: int = 5000
    n_auc_train: int | None = 10000
    vq_entries: int | None = 16
    fgd_n_estimators: int = 100
    dci_n_estimators: int = 100
    estimator: str = "sklearn"
    max_batch_rows: int | None = None
    n_jobs: int | None = None
    verbose: bool = False


class AnalysisContext:
    """The rows, their encoding and the shared intermediate results of one analysis.

    ``x``: the ``n`` checked rows; ``posterior`` their encoding (in chunks of
    ``max_batch_rows``); ``sigma_eff`` ``(d,)``. ``wanted`` is the set of metric columns asked
    for; ``latent_profiles`` says whether the calibrated sweep also captures the decoder's
    hidden sites (for the latent-level modularity).
    """

    def __init__(self, model: Any, dataset: Any, options: AnalysisOptions,
                 wanted: frozenset[str], *, latent_profiles: bool) -> None:
        self.model, self.dataset, self.options, self.wanted = model, dataset, options, wanted
        self.latent_profiles = latent_profiles
        self.x: Tensor = resolve_inputs(dataset, model, n=options.n, seed=options.seed)
        self._encodings: dict[int, Posterior] = {}
        post = self.encoding(options.max_batch_rows)
        sigma = sigma_eff(posterior=post, scale=options.scale)
        sweeps = bool(wanted & SWEEP_COLUMNS)  # only a sweep needs 2+ rows
        check_encoding(model, self.x, post, sigma, calibrated=sweeps, scale=options.scale,
                       what="analyze")
        self.encoded = Encoded(self.x, post, sigma)

    # ---------------------------------------------------------------- rows and encodings

    @property
    def n(self) -> int:
        """The number of rows analysed."""
        return int(self.x.shape[0])

    @property
    def posterior(self) -> Posterior:
        return self.encoded.posterior

    @property
    def sigma_eff(self) -> np.ndarray:
        return self.encoded.sigma_eff

    @property
    def discrete(self) -> bool:
        """Whether the model is vector-quantized (its posterior a DiscretePosterior)."""
        return isinstance(self.posterior, DiscretePosterior)

    def encoding(self, max_batch_rows: int | None) -> Posterior:
        """The posterior of the rows encoded in chunks of ``max_batch_rows`` (``None``:
        automatic). Chunkings that cut the rows the same way share one encoding, so the rows
        are encoded once unless a metric asks for other chunks (FGD encodes in chunks of 512,
        and the encodings of other chunk sizes may differ in the last bit)."""
        size = min(chunk_rows(max_batch_rows, self.model, int(np.prod(self.x.shape[1:]))),
                   self.n)
        if size not in self._encodings:
            self._encodings[size] = encode_all(self.model, self.x, max_batch_rows=size)
        return self._encodings[size]

    def computed(self, name: str) -> bool:
        """Whether the shared result ``name`` (e.g. ``"calibrated"``) has been computed."""
        return name in self.__dict__

    # ---------------------------------------------------------------- sweeps

    @cached_property
    def decoder_sites(self) -> tuple[str, ...]:
        """The decoder's hidden sites, in forward order."""
        return tuple(s.name for s in hidden_sites(self.model, "decoder"))

    @cached_property
    def calibrated(self) -> SweepStats:
        """The calibrated sweep (offsets ``sigma_eff_j * r * linspace(-1, 1, K)``), capturing
        the decoder sites when ``latent_profiles``."""
        o = self.options
        capture = self.decoder_sites if self.latent_profiles else ()
        return sweep(self.model, self.encoded, r=o.r, k=o.k, calibrated=True, capture=capture,
                     max_batch_rows=o.max_batch_rows, verbose=o.verbose).stats

    def calibrated_at(self, scale: Scale) -> tuple[SweepStats, np.ndarray]:
        """The calibrated sweep (no captures) with sigma_eff at ``scale``, and that sigma_eff;
        the analysis' own scale returns :attr:`calibrated`. Kept per scale."""
        if scale == self.options.scale:
            return self.calibrated, self.sigma_eff
        cache = self.__dict__.setdefault("_calibrated_at", {})
        if scale not in cache:
            o = self.options
            post = self.posterior
            sigma = sigma_eff(posterior=post, scale=scale)
            check_encoding(self.model, self.x, post, sigma, calibrated=True, scale=scale,
                           what="analyze")
            encoded = Encoded(self.x, post, sigma)
            stats = sweep(self.model, encoded, r=o.r, k=o.k, calibrated=True,
                          max_batch_rows=o.max_batch_rows, verbose=o.verbose).stats
            cache[scale] = (stats, encoded.sigma_eff)
        return cache[scale]

    @cached_property
    def fixed(self) -> SweepStats:
        """The fixed-range sweep (offsets ``r * linspace(-1, 1, K)``)."""
        o = self.options
        return sweep(self.model, self.encoded, r=o.r, k=o.k, calibrated=False,
                     max_batch_rows=o.max_batch_rows, verbose=o.verbose).stats

    # ---------------------------------------------------------------- input manipulations

    @cached_property
    def hidden_sites(self) -> list[Site]:
        """The hidden sites of the encoder and decoder (activation profiles)."""
        return hidden_sites(self.model, "all")

    def manipulations(self, groups: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """Base inputs and their variants per group, as
        :func:`~circuitvae.interventions.input.manipulations` gives them: the context's rows
        with each group swapped (tabular), or resampled factors (factor datasets)."""
        o = self.options
        if uses_factors(self.dataset, groups):
            return factor_manipulations(self.model, self.dataset, groups, n=o.n, seed=o.seed)
        return self.x, group_manipulations(self.x, self.dataset, groups, seed=o.seed)
