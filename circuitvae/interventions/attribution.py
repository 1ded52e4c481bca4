"""Attribution patching: every unit's patch effect from one forward and one backward pass.

The effect on a scalar metric m of patching unit u at a site from the source run into the base
run is approximated to first order (methods.md section 10; [ours, after Nanda 2023 and Kramar
et al. 2024]) by

    effect_u(i) ~= sum_{e in u} dm_i/da_e (base_i) * (a_e(source_i) - a_e(base_i)),

summed over the elements e of the unit (a feature of a linear layer, every position of a
convolution channel) for pair i, and averaged over the pairs. One forward pass with the graph
kept and one backward pass give this for every unit of every site at once.

The approximation is always offered with its check [our choice]: the ``check`` units of each
site with the largest ``|effect|`` are re-measured by exact batched patching (one pass per
chunk, one row block per unit), and the Spearman rank correlation between the approximate and
the exact effects over the checked units is reported beside the largest absolute error.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import Tensor

from ..hooks import Patch, capture
from ..passes import call
from ..protocol import CircuitVAEError, Site, check_int
from .batching import chunk_rows, chunks, hidden_sites, select_sites
from .patching import Outcome, outcome_run, pair_inputs, resolve_outcome

#: A metric maps an outcome batch ``(rows, *out)`` to one value per row, optionally given each
#: row's pair index (``metric(y, pair)``).
Metric = Literal["projection"] | Callable[..., Tensor]


@dataclass(frozen=True)
class AttributionResult:
    """Approximate (and, for the checked units, exact) patch effects per site and unit.

    ``scores[site]`` ``(n_units,)``: the first-order effect of patching each unit (dim 1 of the
    site's output), mean over pairs; ``per_pair[site]`` ``(N, n_units)`` the same per pair;
    ``exact[site]`` ``(n_units,)``: the exactly patched effect for the checked units, NaN
    elsewhere; ``checked[site]``: the checked unit indices (largest ``|score|`` first);
    ``rank_correlation[site]``: Spearman's rho of score vs exact over the checked units (NaN
    with fewer than 3, or when either is constant); ``max_abs_error[site]``: the largest
    ``|score - exact|`` over them.
    """

    scores: dict[str, np.ndarray]
    per_pair: dict[str, np.ndarray]
    exact: dict[str, np.ndarray]
    checked: dict[str, np.ndarray]
    rank_correlation: dict[str, float]
    max_abs_error: dict[str, float]
    metric: str
    outcome: str
    n_pairs: int

    def to_frame(self) -> pd.DataFrame:
        """One row per (site, unit): ``site, unit, score, exact`` (``exact`` NaN if unchecked)."""
        frames = [
            pd.DataFrame({"site": name, "unit": np.arange(len(s)), "score": s,
                          "exact": self.exact[name]})
            for name, s in self.scores.items()
        ]
        return pd.concat(frames, ignore_index=True)

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` units with the largest ``|score|`` over all sites."""
        frame = self.to_frame()
        order = frame["score"].abs().sort_values(ascending=False).index[:k]
        return frame.loc[order].reset_index(drop=True)


def attribution_patch(
    model: Any,
    base: Any,
    source: Any,
    *,
    metric: Metric = "projection",
    sites: Sequence[str] | None = None,
    outcome: Outcome = "auto",
    check: int | Literal["all"] = 10,
    max_batch_rows: int | None = None,
) -> AttributionResult:
    """Approximate the effect of patching each unit of each site from ``source`` into ``base``.

    ``base`` and ``source`` hold one source row per base row (N pairs). ``sites`` defaults to
    the hidden layers (:func:`~circuitvae.interventions.batching.hidden_sites`, each unit once).
    The outcome y is mu when every site is in the encoder, else x_hat (``outcome``).

    ``metric`` [our choice of default]: ``"projection"`` is the change of the outcome along the
    base-to-source direction, m_i(y) = <y - y_base_i, d_i> with d_i = (y_source_i - y_base_i) /
    ||y_source_i - y_base_i|| (0 where they coincide); it is linear in y, so on a model linear
    in a site the approximation is exact. A callable gets the outcome batch ``(rows, *out)``
    (and, if it takes a second argument, each row's pair index) and returns one value per row.

    ``check``: how many units per site (largest ``|score|`` first) to re-measure by exact
    patching, ``"all"`` for every unit, 0 for none. Gradients flow through the model's own
    forward (torch backend; the model runs in the mode it is in: put it in eval mode so dropout
    is off).
    """
    xb, xs = pair_inputs(model, base, source)
    n = int(xb.shape[0])
    if n == 0:
        raise CircuitVAEError("base and source are empty; give at least one (base, source) pair")
    check_k = _check_count(check)
    site_list = select_sites(model, sites, hidden_sites(model))
    if not site_list:
        raise CircuitVAEError("no sites to attribute; pass sites=[...]")
    names = [s.name for s in site_list]
    out_kind = resolve_outcome(outcome, [s.part for s in site_list])
    if out_kind == "mean" and any(s.phase == "decode" for s in site_list):
        raise CircuitVAEError("outcome='mean' (mu) cannot be attributed to decoder sites; "
                              "use outcome='output' or encoder sites only")
    method = "encode" if out_kind == "mean" else "reconstruct"
    size = chunk_rows(max_batch_rows, model, int(np.prod(xb.shape[1:])))

    y_src, src_acts = _outcome_and_sites(model, xs, out_kind, names, size)
    metric_fn, metric_name = _metric(metric, y_src)
    per_pair: dict[str, list[Tensor]] = {name: [] for name in names}
    y_base: list[Tensor] = []
    for s in chunks(n, size):
        grads, acts, yb = _gradients(model, xb[s], method, out_kind, names, metric_fn,
                                     torch.arange(s.start, s.stop, device=xb.device), y_src)
        y_base.append(yb)
        for name in names:
            delta = (src_acts[name][s] - acts[name]) * grads[name]
            per_pair[name].append(_per_unit(delta))
    base_out = torch.cat(y_base)
    if isinstance(metric, str):  # the projection, now with every pair's base outcome
        metric_fn = _projection(base_out, y_src)
    pairs = {name: torch.cat(v).double() for name, v in per_pair.items()}
    scores = {name: p.mean(0).cpu().numpy() for name, p in pairs.items()}

    exact: dict[str, np.ndarray] = {}
    checked: dict[str, np.ndarray] = {}
    rho: dict[str, float] = {}
    err: dict[str, float] = {}
    for site in site_list:
        score = scores[site.name]
        k = len(score) if check_k is None else min(check_k, len(score))
        units = np.argsort(-np.abs(score), kind="stable")[:k]
        values = np.full(len(score), np.nan)
        if k:
            values[units] = _exact_effects(model, xb, src_acts[site.name], site, units,
                                           out_kind, metric_fn, size)
        exact[site.name], checked[site.name] = values, units
        rho[site.name] = _spearman(score[units], values[units])
        err[site.name] = (float(np.max(np.abs(score[units] - values[units]))) if k
                          else float("nan"))
    return AttributionResult(
        scores=scores, per_pair={k: v.cpu().numpy() for k, v in pairs.items()}, exact=exact,
        checked=checked, rank_correlation=rho, max_abs_error=err, metric=metric_name,
        outcome=out_kind, n_pairs=n,
    )


def _per_unit(delta: Tensor) -> Tensor:
    """``(rows, n_units)``: the elements of each unit along dim 1 summed."""
    if delta.ndim == 1:
        return delta[:, None]
    return delta.flatten(2).sum(2) if delta.ndim > 2 else delta


def _check_count(check: Any) -> int | None:
    """``None`` for ``"all"``, else the number of units to check per site."""
    if check == "all":
        return None
    if isinstance(check, str):
        raise CircuitVAEError(f"check must be a number of units or 'all', got {check!r}")
    return int(check_int("check", check, minimum=0))


def _outcome(res_output: Any, out_kind: str) -> Tensor:
    return res_output.mean if out_kind == "mean" else res_output


def _outcome_and_sites(model: Any, x: Tensor, out_kind: str, names: list[str],
                       size: int) -> tuple[Tensor, dict[str, Tensor]]:
    """The outcome and the site activations of every row of ``x`` (inference passes)."""
    outs: list[Tensor] = []
    acts: dict[str, list[Tensor]] = {name: [] for name in names}

    def keep(name: str) -> Callable[[Tensor], Tensor]:
        def record(output: Tensor) -> Tensor:  # a copy now: a later in-place op cannot alter it
            acts[name].append(output.clone())
            return output

        return record

    recorders = {name: keep(name) for name in names}
    for s in chunks(x.shape[0], size):
        outs.append(outcome_run(model, x[s], out_kind, patches=recorders)[0])
    return torch.cat(outs), {k: torch.cat(v) for k, v in acts.items()}


def _gradients(model: Any, x: Tensor, method: str, out_kind: str, names: list[str],
               metric_fn: Callable[[Tensor, Tensor], Tensor], pair: Tensor, y_src: Tensor,
               ) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
    """dm/da at every site for the rows ``x`` (one forward with the graph, one backward)."""
    if torch.is_inference_mode_enabled():
        raise CircuitVAEError("attribution_patch needs gradients: call it outside "
                              "torch.inference_mode()")
    x = x.detach().clone().requires_grad_(x.is_floating_point())
    with torch.enable_grad():
        with capture(model, names, detach=False) as cache:
            y = _outcome(call(model, x, method), out_kind)  # type: ignore[arg-type]
        acts = [cache[name] for name in names]
        if not all(a.requires_grad for a in acts):
            bad = [name for name, a in zip(names, acts, strict=True) if not a.requires_grad]
            raise CircuitVAEError(f"site(s) {', '.join(map(repr, bad))} carry no gradient (a "
                                  "detached or integer output); attribution needs a "
                                  "differentiable path from each site to the outcome")
        m = _check_metric_values(metric_fn(y, pair), y.shape[0])
        grads = torch.autograd.grad(m.sum(), acts, allow_unused=True)
    out = {name: (torch.zeros_like(a) if g is None else g).detach()
           for name, a, g in zip(names, acts, grads, strict=True)}
    return out, {name: a.detach() for name, a in zip(names, acts, strict=True)}, y.detach()


def _check_metric_values(values: Any, rows: int) -> Tensor:
    if not isinstance(values, Tensor) or tuple(values.shape) != (rows,):
        got = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise CircuitVAEError(
            f"metric must return one value per row, a tensor of shape ({rows},); got {got}"
        )
    return values


def _projection(y_base: Tensor, y_src: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    diff = (y_src - y_base).flatten(1)
    norm = diff.norm(dim=1, keepdim=True)
    direction = torch.where(norm > 0, diff / norm.clamp_min(torch.finfo(diff.dtype).tiny),
                            torch.zeros_like(diff))

    def projection(y: Tensor, pair: Tensor) -> Tensor:
        return ((y.flatten(1) - y_base[pair].flatten(1)) * direction[pair]).sum(1)

    return projection


def _metric(metric: Any, y_src: Tensor) -> tuple[Callable[[Tensor, Tensor], Tensor], str]:
    """A metric of (outcome, pair index); the projection's base outcome is filled in per pass."""
    if isinstance(metric, str):
        if metric != "projection":
            raise CircuitVAEError(f"metric must be 'projection' or a callable, got {metric!r}")

        def projection_grad(y: Tensor, pair: Tensor) -> Tensor:
            # at the base, m = <y - y_base, d>, whose gradient is d (y_base = y, detached)
            return _projection(y.detach(), y_src[pair])(y, torch.arange(y.shape[0],
                                                                        device=y.device))

        return projection_grad, "projection"
    if not callable(metric):
        raise CircuitVAEError(f"metric must be 'projection' or a callable, got "
                              f"{type(metric).__name__}")
    takes_pair = _positional_params(metric) >= 2
    name = getattr(metric, "__name__", type(metric).__name__)
    if takes_pair:
        return metric, name
    return (lambda y, _pair: metric(y)), name


def _positional_params(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in kinds for p in params)


def _exact_effects(model: Any, xb: Tensor, src: Tensor, site: Site, units: np.ndarray,
                   out_kind: str, metric_fn: Callable[[Tensor, Tensor], Tensor],
                   size: int) -> np.ndarray:
    """Mean over pairs of m(base with unit u patched) - m(base), for each u in ``units``.

    Each chunk of m pairs runs as K + 1 row blocks in one pass: block 0 is the base, block k
    patches unit ``units[k - 1]`` only (a per-row mask over dim 1).
    """
    n, k = int(xb.shape[0]), len(units)
    unit_shape = tuple(src.shape[1:])
    totals = torch.zeros(k, dtype=torch.float64, device=xb.device)
    sel = torch.zeros((k + 1, unit_shape[0] if unit_shape else 1), dtype=torch.bool,
                      device=xb.device)
    sel[torch.arange(1, k + 1), torch.as_tensor(units, device=xb.device)] = True
    for s in chunks(n, max(1, size // (k + 1))):
        m = s.stop - s.start
        x_rep = xb[s].repeat(k + 1, *(1,) * (xb.ndim - 1))
        value = src[s].repeat(k + 1, *(1,) * (src.ndim - 1))
        mask = sel.repeat_interleave(m, dim=0)
        if not unit_shape:
            mask = mask[:, 0]
        else:  # the full output shape: a (rows, C) mask could be misread when C x L == rows
            mask = mask.reshape(*mask.shape, *(1,) * (len(unit_shape) - 1)).expand(
                -1, *unit_shape)
        y, _ = outcome_run(model, x_rep, out_kind, patches={site.name: Patch(value, mask)})
        pair = torch.arange(s.start, s.stop, device=xb.device).repeat(k + 1)
        vals = _check_metric_values(metric_fn(y, pair), (k + 1) * m).double().reshape(k + 1, m)
        totals += (vals[1:] - vals[:1]).sum(1)
    return (totals / n).cpu().numpy()


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


__all__ = ["AttributionResult", "Metric", "attribution_patch"]
