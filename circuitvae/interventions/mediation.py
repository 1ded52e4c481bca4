"""Level 4, causal mediation: how much of the effect of x -> x' flows through a mediator?

TE = y(x') - y(x); NIE = y(x, M <- M(x')) - y(x); NDE = y(x', M <- M(x)) - y(x);
proportion mediated = mean ||NIE|| / mean ||TE|| (norms averaged over pairs).

:func:`mediation_by_layer` runs it with every hidden layer as the mediator and reports the
**saturation** of sequential architectures: a whole layer is a cut of the network, so it
mediates everything (proportion = 1 at every layer) and layer-level mediation cannot rank
layers. The flag and message say so; unit subsets are the remedy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ..patches import Patch, Units, check_units
from ..protocol import CircuitVAEError, check_choice
from .batching import chunk_rows, chunks, hidden_sites
from .patching import outcome_run, pair_inputs, row_norms, site_of


@dataclass(frozen=True)
class MediationResult:
    """Per-pair effects ``(N, *out)`` (numpy) and their mean L2 norms.

    ``proportion`` = ``nie_norm / te_norm`` (NaN when TE = 0).
    """

    te: np.ndarray
    nie: np.ndarray
    nde: np.ndarray
    te_norm: float
    nie_norm: float
    nde_norm: float
    proportion: float
    mediator: str
    outcome: str


@dataclass(frozen=True)
class LayerMediation:
    """Proportion mediated by each layer (``sites`` in forward order) and the saturation flag."""

    sites: tuple[str, ...]
    proportions: np.ndarray
    saturated: bool
    message: str
    whole_layers: bool


def mediate(
    model: Any,
    base: Any,
    source: Any,
    *,
    mediator: str,
    units: Units = None,
    outcome: Literal["output", "mean"] = "output",
    max_batch_rows: int | None = None,
) -> MediationResult:
    """Causal mediation through ``units`` of site ``mediator`` for N (x, x') pairs.

    [paper] TE, NIE, NDE and the proportion mediated; [our choice] the outcome vector y is x_hat
    (``outcome="output"``) or mu (``"mean"``), and norms are L2 norms averaged over pairs.
    The four runs per pair are two batched passes: one over [x; x'] capturing M, one over
    [x; x'] with M patched crosswise.
    """
    check_units(units)
    check_choice("outcome", outcome, ("output", "mean"))
    site_of(model, mediator)
    xb, xs = pair_inputs(model, base, source)
    size = chunk_rows(max_batch_rows, model, int(np.prod(xb.shape[1:])))
    te, nie, nde = [], [], []
    half = max(1, size // 2)
    for s in chunks(xb.shape[0], half):
        both = torch.cat([xb[s], xs[s]])
        m = both.shape[0] // 2
        y, cache = outcome_run(model, both, outcome, capture=[mediator])
        act = cache[mediator]
        swapped = torch.cat([act[m:], act[:m]])  # base rows get M(x'), source rows get M(x)
        y_p, _ = outcome_run(model, both, outcome, patches={mediator: Patch(swapped, units)})
        y_x, y_xp = y[:m], y[m:]
        te.append(y_xp - y_x)
        nie.append(y_p[:m] - y_x)
        nde.append(y_p[m:] - y_x)
    te_t, nie_t, nde_t = torch.cat(te), torch.cat(nie), torch.cat(nde)
    te_norm = float(row_norms(te_t).mean())
    nie_norm = float(row_norms(nie_t).mean())
    return MediationResult(
        te=te_t.cpu().numpy(),
        nie=nie_t.cpu().numpy(),
        nde=nde_t.cpu().numpy(),
        te_norm=te_norm,
        nie_norm=nie_norm,
        nde_norm=float(row_norms(nde_t).mean()),
        proportion=nie_norm / te_norm if te_norm > 0 else float("nan"),
        mediator=mediator,
        outcome=outcome,
    )


def mediation_by_layer(
    model: Any,
    base: Any,
    source: Any,
    *,
    sites: Sequence[str] | None = None,
    units: Mapping[str, Units] | None = None,
    outcome: Literal["output", "mean"] = "output",
    tol: float = 1e-4,
    max_batch_rows: int | None = None,
) -> LayerMediation:
    """The proportion mediated by each layer, with an explicit saturation report.

    ``sites`` defaults to the hidden sites (encoder sites only when ``outcome="mean"``);
    ``units`` maps a site to its unit subset (default: whole layers). ``saturated`` is True when
    every proportion is within ``tol`` of 1 [our choice of test]: then the layers cannot be
    ranked by mediation (in a sequential architecture each whole layer carries the whole
    effect [paper]), and the message recommends unit subsets.
    """
    check_choice("outcome", outcome, ("output", "mean"))
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not np.isfinite(tol) \
            or tol < 0:
        raise CircuitVAEError(f"tol must be a finite number >= 0, got {tol!r}")
    for name, site_units in (units or {}).items():
        check_units(site_units, name=f"units of site {name!r}")
    if sites is None:
        layers = "encoder" if outcome == "mean" else "all"
        sites = [s.name for s in hidden_sites(model, layers)]
    units = dict(units or {})
    props = np.array([
        mediate(model, base, source, mediator=s, units=units.get(s), outcome=outcome,
                max_batch_rows=max_batch_rows).proportion
        for s in sites
    ])
    whole = all(units.get(s) is None for s in sites)
    saturated = bool(len(props) > 0 and np.all(np.abs(props - 1.0) <= tol))
    if saturated:
        message = (
            f"saturated: every one of the {len(props)} layer(s) mediates 100% of the effect "
            f"(proportion = 1 within {tol:g}). "
            + ("With whole-layer mediators in a sequential architecture each layer is a cut "
               "of the network, so " if whole else "")
            + "layer-level mediation cannot rank these layers; mediate through unit subsets "
            "(units={site: [...]}), e.g. the units with the largest activation change, or use "
            "path_patch for per-layer contributions."
        )
    else:
        message = "not saturated: the layers mediate different shares of the effect."
    return LayerMediation(
        sites=tuple(sites), proportions=props, saturated=saturated, message=message,
        whole_layers=whole,
    )
