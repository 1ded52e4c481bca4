"""Level 3, activation patching, and path-specific (telescoping) patching.

:func:`patch` replaces the activations of a unit set at one site in the base run by those of the
source run and measures the change of the outcome (mu for encoder sites, x_hat otherwise).
:func:`path_patch` patches a path of unit sets S_1..S_L cumulatively; the per-layer
contributions c_l = y_l - y_{l-1} telescope to the total y_L - y_0 (Proposition 2). All
L + 1 cumulative runs go through one batched pass with per-row unit masks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ..hooks import run_unchecked
from ..patches import Patch, Units, check_units
from ..protocol import CircuitVAEError, Site, resolve_inputs
from ..sitemap import site_info
from .batching import chunk_rows, chunks

Outcome = Literal["auto", "output", "mean"]


@dataclass(frozen=True)
class PatchResult:
    """Outputs of base, patched-base and source runs, ``(N, *out)`` each (numpy).

    ``effect`` = mean over pairs of ||patched - base||_2 (flattened); ``per_pair`` those norms.
    """

    base_output: np.ndarray
    patched_output: np.ndarray
    source_output: np.ndarray
    effect: float
    per_pair: np.ndarray
    site: str
    outcome: str


@dataclass(frozen=True)
class PathPatchResult:
    """Telescoping decomposition of a path patch.

    ``contributions`` ``(L, N, *out)``: c_l = y_l - y_{l-1}; ``total`` ``(N, *out)``:
    y_L - y_0; ``outputs`` ``(L + 1, N, *out)``: y_0..y_L; ``sites``: forward order;
    ``norms`` ``(L,)``: mean over pairs of ||c_l||; ``shares`` ``(L,)``:
    sum_pairs <c_l, total> / sum_pairs ||total||^2, which sums to 1 exactly (NaN if total = 0).
    """

    contributions: np.ndarray
    total: np.ndarray
    outputs: np.ndarray
    shares: np.ndarray
    norms: np.ndarray
    sites: tuple[str, ...]
    outcome: str


def site_of(model: Any, name: str) -> Site:
    """The :class:`~circuitvae.protocol.Site` of ``name``, validated by
    :func:`circuitvae.sitemap.check_sites`."""
    return site_info(model, [name])[0]


def resolve_outcome(outcome: Outcome, parts: Sequence[str]) -> Literal["output", "mean"]:
    """``auto``: mu when every site is in the encoder, x_hat otherwise."""
    if outcome == "auto":
        return "mean" if all(p == "encoder" for p in parts) else "output"
    if outcome not in ("output", "mean"):
        raise CircuitVAEError(f"outcome must be 'auto', 'output' or 'mean', got {outcome!r}")
    return outcome


def outcome_run(model: Any, x: Tensor, outcome: str, **kw: Any) -> tuple[Tensor, dict]:
    """One unchecked pass (:func:`circuitvae.hooks.run_unchecked`) returning the outcome tensor
    (mu or x_hat) and the cache."""
    res = run_unchecked(model, x, method="encode" if outcome == "mean" else "reconstruct", **kw)
    out = res.output.mean if outcome == "mean" else res.output
    return out, res.cache


def unit_mask(units: Units, unit_shape: tuple[int, ...], device: torch.device) -> Tensor:
    """A boolean mask of shape ``unit_shape`` selecting ``units`` (None = the whole site)."""
    if units is None:
        return torch.ones(unit_shape, dtype=torch.bool, device=device)
    if isinstance(units, Tensor) and units.dtype == torch.bool:
        m = units.to(device)
        if tuple(m.shape) == unit_shape:
            return m
        if m.ndim == 1 and len(unit_shape) >= 1 and m.shape[0] == unit_shape[0]:
            return m.reshape(-1, *(1,) * (len(unit_shape) - 1)).expand(unit_shape)
        raise CircuitVAEError(
            f"unit mask of shape {tuple(m.shape)} does not fit a site of shape {unit_shape}"
        )
    idx = torch.as_tensor(units, dtype=torch.long, device=device).flatten()
    if idx.numel() and (idx.min() < -unit_shape[0] or idx.max() >= unit_shape[0]):
        raise CircuitVAEError(f"units {idx.tolist()} out of range for {unit_shape[0]} units")
    m = torch.zeros(unit_shape, dtype=torch.bool, device=device)
    m[idx] = True
    return m


def pair_inputs(model: Any, base: Any, source: Any) -> tuple[Tensor, Tensor]:
    """Checked base and source inputs, one source row per base row."""
    xb = resolve_inputs(base, model, n=None)
    xs = resolve_inputs(source, model, n=None)
    if xb.shape != xs.shape:
        raise CircuitVAEError(
            f"base {tuple(xb.shape)} and source {tuple(xs.shape)} must have the same shape "
            "(one source row per base row)"
        )
    return xb, xs


def row_norms(t: Tensor) -> Tensor:
    """The L2 norm of each row of ``t`` (flattened), in float64."""
    return t.flatten(1).double().norm(dim=1)


def patch(
    model: Any,
    base: Any,
    source: Any,
    *,
    site: str,
    units: Units = None,
    outcome: Outcome = "auto",
    max_batch_rows: int | None = None,
) -> PatchResult:
    """Activation patching at one site, for N (base, source) pairs in batched passes.

    The activations of ``units`` at ``site`` (``None``: the whole layer; a list of indices along
    dim 1: units of a linear layer or channels of a convolution; a boolean mask) in the base run
    are replaced by the source run's. Outcome (``"auto"``): mu for encoder sites, x_hat for
    latent and decoder sites. Effect = mean over pairs of ||y_patched - y_base||_2 [our choice].
    Two batched passes per chunk: the source capturing the site, then [base; base] with a
    per-row mask that patches the second half only (so base and patched share one pass).
    """
    check_units(units)
    info = site_of(model, site)
    out_kind = resolve_outcome(outcome, [info.part])
    xb, xs = pair_inputs(model, base, source)
    size = chunk_rows(max_batch_rows, model, int(np.prod(xb.shape[1:])))
    b_out, p_out, s_out = [], [], []
    for s in chunks(xb.shape[0], max(1, size // 2)):
        m = s.stop - s.start
        y_s, cache = outcome_run(model, xs[s], out_kind, capture=[site])
        src = cache[site]
        umask = unit_mask(units, tuple(src.shape[1:]), xb.device)
        rows_on = torch.arange(2 * m, device=xb.device) >= m  # first half: base, second: patched
        mask = rows_on.reshape(-1, *(1,) * umask.ndim) & umask
        y, _ = outcome_run(model, torch.cat([xb[s], xb[s]]), out_kind,
                           patches={site: Patch(torch.cat([src, src]), mask)})
        b_out.append(y[:m]), p_out.append(y[m:]), s_out.append(y_s)
    yb, yp, ys = torch.cat(b_out), torch.cat(p_out), torch.cat(s_out)
    per_pair = row_norms(yp - yb)
    return PatchResult(
        base_output=yb.cpu().numpy(),
        patched_output=yp.cpu().numpy(),
        source_output=ys.cpu().numpy(),
        effect=float(per_pair.mean()),
        per_pair=per_pair.cpu().numpy(),
        site=site,
        outcome=out_kind,
    )


def path_patch(
    model: Any,
    base: Any,
    source: Any,
    path: Mapping[str, Units],
    *,
    outcome: Outcome = "auto",
    max_batch_rows: int | None = None,
) -> PathPatchResult:
    """Path-specific activation patching with the telescoping decomposition.

    ``path`` maps sites to unit sets S_l (``None`` = whole layer); sites are put in forward
    order. y_0 = base outcome, y_l = outcome with S_1..S_l all patched from the source run
    (cumulative); c_l = y_l - y_{l-1}. Then sum_l c_l = y_L - y_0 exactly (Proposition 2, a
    telescoping sum), and with whole layers on a sequential net y_L = the source outcome.
    [paper] the decomposition; [our choice] ``shares`` = projection of c_l on the total.
    The L + 1 cumulative variants of every pair run stacked along the batch dimension, with a
    per-row unit mask at each site, in chunks of ``max_batch_rows`` rows.
    """
    if not path:
        raise CircuitVAEError("path is empty; give {site: units, ...}")
    for name, units in path.items():
        check_units(units, name=f"units of site {name!r} in path")
    infos = sorted(site_info(model, list(path)), key=lambda s: s.index)
    names = [s.name for s in infos]
    out_kind = resolve_outcome(outcome, [s.part for s in infos])
    xb, xs = pair_inputs(model, base, source)
    n, n_layers = xb.shape[0], len(names)
    size = chunk_rows(max_batch_rows, model, int(np.prod(xb.shape[1:])))
    src: dict[str, list[Tensor]] = {name: [] for name in names}
    for s in chunks(n, size):
        _, cache = outcome_run(model, xs[s], out_kind, capture=names)
        for name in names:
            src[name].append(cache[name])
    src_t = {k: torch.cat(v) for k, v in src.items()}
    masks = {
        name: unit_mask(path[name], tuple(src_t[name].shape[1:]), xb.device) for name in names
    }
    outs = []
    for s in chunks((n_layers + 1) * n, size):
        flat = torch.arange(s.start, s.stop, device=xb.device)
        level, rows = flat // n, flat % n
        patches = {}
        for m, name in enumerate(names, start=1):
            active = (level >= m).reshape(-1, *(1,) * len(masks[name].shape))
            patches[name] = Patch(src_t[name][rows], active & masks[name])
        y, _ = outcome_run(model, xb[rows], out_kind, patches=patches)
        outs.append(y)
    y_all = torch.cat(outs).reshape(n_layers + 1, n, *outs[0].shape[1:]).double()
    contrib = y_all[1:] - y_all[:-1]
    total = y_all[-1] - y_all[0]
    tot_flat = total.flatten(1)
    denom = (tot_flat**2).sum()
    dots = torch.stack([(c.flatten(1) * tot_flat).sum() for c in contrib])
    shares = dots / denom if denom > 0 else torch.full_like(dots, float("nan"))
    norms = torch.stack([row_norms(c).mean() for c in contrib])
    return PathPatchResult(
        contributions=contrib.cpu().numpy(),
        total=total.cpu().numpy(),
        outputs=y_all.cpu().numpy(),
        shares=shares.cpu().numpy(),
        norms=norms.cpu().numpy(),
        sites=tuple(names),
        outcome=out_kind,
    )
