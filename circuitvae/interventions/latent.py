"""Level 2, latent perturbation: do(z_j = mu_j(x) + delta), decoded in a few large batches.

* :func:`sigma_eff` -- the effective scale of each latent over an evaluation set;
* :func:`offset_grid` -- the (d, K) sweep offsets, fixed-range or posterior-calibrated;
* :func:`latent_sweep` -- decode every (latent j, offset k, row n) intervention, chunked under
  ``max_batch_rows``, and reduce on the fly to the statistics the metrics need (the metrics call
  :func:`latent_sweep_unchecked`, the same sweep without the input checks);
* :func:`traversal` -- the decoded outputs themselves (offsets or absolute values), for plots.

The sweep never materialises the ``d * K * N`` outputs: each chunk is decoded, compared with
``D(mu(x))`` and folded into per-(j, k) and per-(j, element) sums.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..hooks import run_unchecked
from ..protocol import CircuitVAEError, Posterior, check_input, check_latent
from ..sitemap import check_sites
from .batching import chunk_rows, decode_all, encode_all

Scale = Literal["means", "total", "posterior", "prior"]
#: the values of ``scale`` (:func:`sigma_eff`)
SCALES: tuple[str, ...] = ("means", "total", "posterior", "prior")


def check_sweep_finite(model: Any, stats: SweepStats) -> None:
    """Raise when a sweep's statistics are not finite: the decoder overflowed (or produced
    NaN) on the swept codes, and the metric would be inf/NaN. Reads the (small, host-side)
    float64 sums only."""
    for name, arr in (("rms", stats.rms), ("l2", stats.l2), ("sq", stats.sq),
                      *stats.activations.items()):
        if not np.isfinite(arr).all():
            raise CircuitVAEError(
                f"the latent sweep of {type(model).__name__} is not finite ({name} has "
                f"{int((~np.isfinite(arr)).sum())} inf/NaN value(s)): the decoded outputs "
                "overflowed or are NaN on these inputs/offsets; rescale the inputs or lower r"
            )


def sigma_eff(
    model: Any | None = None,
    x: Tensor | None = None,
    scale: Scale = "means",
    *,
    posterior: Posterior | None = None,
    max_batch_rows: int | None = None,
) -> np.ndarray:
    """The effective scale sigma_eff_j of every latent over the rows of ``x``, shape ``(d,)``.

    * ``"means"`` (default) [our choice]: std over X of mu_j(x) (population std, ddof = 0),
      the spread of the codes the decoder is actually driven with;
    * ``"total"``: sqrt(mean_X sigma_j^2(x) + var_X mu_j(x)), the aggregate-posterior scale
      used by disentanglement_lib for traversals;
    * ``"posterior"``: mean_X sigma_j(x), the encoder's own posterior spread (needs a
      Gaussian encoder: a deterministic one has sigma = 0, which is an error here);
    * ``"prior"``: 1 for every latent (calibration then equals the fixed-range sweep).

    Pass ``posterior`` instead of ``model``/``x`` to reuse an encoding.
    """
    if scale not in SCALES:
        raise CircuitVAEError(
            f"scale must be 'means', 'total', 'posterior' or 'prior', got {scale!r}")
    if posterior is None:
        if model is None or x is None:
            raise CircuitVAEError("sigma_eff needs model and x, or posterior=")
        posterior = encode_all(model, check_input(model, x), max_batch_rows=max_batch_rows)
    mu = posterior.mean.detach().double()
    if scale == "means":
        out = mu.std(dim=0, unbiased=False)
    elif scale == "total":
        var = posterior.std.detach().double() ** 2
        out = torch.sqrt(var.mean(dim=0) + mu.var(dim=0, unbiased=False))
    elif scale == "posterior":
        if posterior.logvar is None:
            raise CircuitVAEError("scale='posterior' needs the encoder's log-variance; this "
                                  "encoder is deterministic (sigma = 0)")
        out = posterior.std.detach().double().mean(dim=0)
    elif scale == "prior":
        out = torch.ones(mu.shape[1], dtype=torch.float64)
    else:
        raise CircuitVAEError(
            f"scale must be 'means', 'total', 'posterior' or 'prior', got {scale!r}")
    return out.cpu().numpy()


def offset_grid(
    d: int, k: int = 11, r: float = 3.0, sigma: np.ndarray | None = None
) -> np.ndarray:
    """Sweep offsets, shape ``(d, k)``: ``r * linspace(-1, 1, k)`` per latent [our defaults].

    With ``sigma`` (shape ``(d,)``, e.g. :func:`sigma_eff`) the grid is calibrated:
    ``sigma_j * r * linspace(-1, 1, k)``.
    """
    if k < 1:
        raise CircuitVAEError(f"k (grid size) must be >= 1, got {k}")
    base = r * np.linspace(-1.0, 1.0, k)
    grid = np.tile(base, (d, 1))
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=np.float64)
        if sigma.shape != (d,):
            raise CircuitVAEError(f"sigma has shape {sigma.shape}, expected ({d},)")
        grid = sigma[:, None] * grid
    return grid


@dataclass(frozen=True)
class SweepStats:
    """What :func:`latent_sweep` accumulates (all numpy, float64).

    ``rms`` / ``l2``: ``(d, K)`` mean over rows of the RMS / L2 norm over the P output elements
    of ``D(z') - D(mu)``. ``sq``: ``(d, P)`` mean over rows and offsets of the squared change of
    each output element. ``activations``: site -> ``(d, units)`` mean over rows and offsets of
    the change of each unit (absolute or signed, see ``profile``).
    """

    grid: np.ndarray
    rms: np.ndarray
    l2: np.ndarray
    sq: np.ndarray
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    n_rows: int = 0


def latent_sweep(
    model: Any,
    mu: Tensor,
    grid: np.ndarray,
    *,
    absolute: bool = False,
    latents: np.ndarray | None = None,
    capture: tuple[str, ...] = (),
    profile: Literal["abs", "signed"] = "abs",
    max_batch_rows: int | None = None,
    verbose: bool = False,
) -> SweepStats:
    """Decode do(z_j = mu_j + grid[j, k]) (or ``= grid[j, k]`` if ``absolute``) for all j, k, rows.

    Other latents stay at ``mu``. All ``d * K * N`` interventions are laid out along the batch
    dimension and decoded in chunks of ``max_batch_rows`` rows (default: automatic, see
    :func:`circuitvae.interventions.batching.chunk_rows`). ``latents`` restricts the sweep to a
    subset of latent indices (rows of ``grid`` follow that subset). ``capture`` names decoder
    sites whose activation change is accumulated per latent.

    ``mu`` (a latent batch ``(N, d)``) and ``capture`` are checked here, once; the sweep itself
    is :func:`latent_sweep_unchecked`.
    """
    mu = check_latent(model, mu, name="mu")
    check_sites(model, capture)
    return latent_sweep_unchecked(model, mu, grid, absolute=absolute, latents=latents,
                                  capture=tuple(capture), profile=profile,
                                  max_batch_rows=max_batch_rows, verbose=verbose)


def latent_sweep_unchecked(
    model: Any,
    mu: Tensor,
    grid: np.ndarray,
    *,
    absolute: bool = False,
    latents: np.ndarray | None = None,
    capture: tuple[str, ...] = (),
    profile: Literal["abs", "signed"] = "abs",
    max_batch_rows: int | None = None,
    verbose: bool = False,
    units: Sequence[np.ndarray] | None = None,
    unit_scale: np.ndarray | None = None,
) -> SweepStats:
    """:func:`latent_sweep` on a latent batch ``mu`` already on the model's device in its dtype
    (an encoding) and valid ``capture`` sites: what the metrics call.

    ``units`` (latent units, e.g. the channels of a spatial latent): a list of U index arrays
    into the d latent coordinates. Unit u is then moved as a whole,
    do(z_i = mu_i + grid[u, k] * unit_scale_i for every i in unit u), so ``grid`` is ``(U, K)``
    and ``unit_scale`` ``(d,)`` (default ones; the calibrated sweep passes sigma_eff, so each
    coordinate moves by its own scale). The statistics then have one row per unit.
    """
    mu = mu.detach()
    n, d_all = mu.shape
    if units is not None:
        if absolute or latents is not None:
            raise CircuitVAEError("a sweep of latent units moves each unit from mu along its "
                                  "direction: absolute=True and latents= do not apply")
        return _unit_sweep(model, mu, np.asarray(grid, dtype=np.float64), units, unit_scale,
                           capture=capture, profile=profile, max_batch_rows=max_batch_rows,
                           verbose=verbose)
    idx_latents = np.arange(d_all) if latents is None else np.asarray(latents, dtype=np.int64)
    grid = np.asarray(grid, dtype=np.float64)
    d, k = grid.shape
    if d != len(idx_latents):
        raise CircuitVAEError(f"grid has {d} rows but {len(idx_latents)} latents are swept")
    grid_t = torch.as_tensor(grid, dtype=mu.dtype, device=mu.device)
    lat_t = torch.as_tensor(idx_latents, device=mu.device)

    def codes(rows: slice, jb: Tensor, kb: Tensor) -> Tensor:
        z = mu[rows].repeat(len(jb), 1).view(len(jb), rows.stop - rows.start, d_all)
        cols = lat_t[jb]
        ar = torch.arange(len(jb), device=mu.device)
        start = torch.zeros_like(z[ar, :, cols]) if absolute else z[ar, :, cols]
        z[ar, :, cols] = start + grid_t[jb, kb][:, None]
        return z

    return _sweep(model, mu, grid, codes, capture=capture, profile=profile,
                  max_batch_rows=max_batch_rows, verbose=verbose)


def _unit_sweep(model: Any, mu: Tensor, grid: np.ndarray, units: Sequence[np.ndarray],
                unit_scale: np.ndarray | None, *, capture: tuple[str, ...],
                profile: Literal["abs", "signed"], max_batch_rows: int | None,
                verbose: bool) -> SweepStats:
    """The sweep of whole latent units along their directions (see
    :func:`latent_sweep_unchecked`): unit u's codes are ``mu + grid[u, k] * direction_u``."""
    d_all = mu.shape[1]
    if grid.shape[0] != len(units):
        raise CircuitVAEError(f"grid has {grid.shape[0]} rows but {len(units)} latent units "
                              "are swept")
    dev = mu.device
    scale = np.ones(d_all) if unit_scale is None else np.asarray(unit_scale, dtype=np.float64)
    directions = torch.zeros(len(units), d_all, dtype=mu.dtype, device=dev)
    for j, idx in enumerate(units):
        idx = np.asarray(idx, dtype=np.int64)
        directions[j, torch.as_tensor(idx, device=dev)] = torch.as_tensor(
            scale[idx], dtype=mu.dtype, device=dev)
    grid_t = torch.as_tensor(grid, dtype=mu.dtype, device=dev)

    def codes(rows: slice, jb: Tensor, kb: Tensor) -> Tensor:
        step = grid_t[jb, kb][:, None] * directions[jb]  # (blocks, d)
        return mu[rows].unsqueeze(0) + step.unsqueeze(1)

    return _sweep(model, mu, grid, codes, capture=capture, profile=profile,
                  max_batch_rows=max_batch_rows, verbose=verbose)


def _sweep(model: Any, mu: Tensor, grid: np.ndarray,
           codes: Callable[[slice, Tensor, Tensor], Tensor], *, capture: tuple[str, ...],
           profile: Literal["abs", "signed"], max_batch_rows: int | None,
           verbose: bool) -> SweepStats:
    """The chunked sweep shared by both forms: ``codes(rows, j, k)`` gives the latent codes
    ``(blocks, rows, d)`` of (unit j, offset k) blocks; each chunk is decoded and folded into
    the sums of :class:`SweepStats` (one row per unit of ``grid`` ``(U, K)``)."""
    n, d_all = mu.shape
    d, k = grid.shape
    base_out, base_acts = decode_all(model, mu, max_batch_rows=max_batch_rows, capture=capture)
    p = int(np.prod(base_out.shape[1:]))
    dev = mu.device
    rms = torch.zeros(d * k, dtype=torch.float64, device=dev)
    l2 = torch.zeros(d * k, dtype=torch.float64, device=dev)
    sq = torch.zeros(d, p, dtype=torch.float64, device=dev)
    acts = {
        name: torch.zeros(d, int(np.prod(t.shape[1:])), dtype=torch.float64, device=dev)
        for name, t in base_acts.items()
    }
    # a chunk holds the output and every captured site at once: budget for all of them
    size = chunk_rows(max_batch_rows, model, p + sum(int(np.prod(t.shape[1:]))
                                                     for t in base_acts.values()))
    for first, end, rows in tqdm(_sweep_pieces(d * k, n, size), desc="latent sweep",
                                 disable=not verbose, leave=False):
        m = rows.stop - rows.start
        blocks = torch.arange(first, end, device=dev)
        jb, kb = blocks // k, blocks % k
        z = codes(rows, jb, kb)
        res = run_unchecked(model, z.reshape(-1, d_all), method="decode", capture=capture)
        if not isinstance(res.output, Tensor) or res.output.shape[0] != z.shape[0] * m:
            got = (tuple(res.output.shape) if isinstance(res.output, Tensor)
                   else type(res.output).__name__)
            raise CircuitVAEError(
                f"{type(model).__name__}.decode returned {got} for a latent batch of shape "
                f"{(z.shape[0] * m, d_all)}; expected one output row per latent row")
        _fold_blocks(res.output, base_out[rows], blocks, jb, rms, l2, sq)
        for name in capture:
            delta = (res.cache[name].reshape(len(blocks), m, -1)
                     - base_acts[name][rows].reshape(1, m, -1))
            if profile == "abs":
                delta = delta.abs_()  # exact in the model's dtype, so before the sum
            acts[name].index_add_(0, jb, delta.sum(dim=1).double())
    stats = SweepStats(
        grid=grid,
        rms=(rms / n).reshape(d, k).cpu().numpy(),
        l2=(l2 / n).reshape(d, k).cpu().numpy(),
        sq=(sq / (n * k)).cpu().numpy(),
        activations={name: (a / (n * k)).cpu().numpy() for name, a in acts.items()},
        n_rows=n,
    )
    check_sweep_finite(model, stats)
    return stats


LatentUnits = Literal["auto", "channel", "element"]
#: the values of ``latent_units``
LATENT_UNITS: tuple[str, ...] = ("auto", "channel", "element")


def latent_unit_groups(model: Any, d: int, latent_units: str = "auto") -> list[np.ndarray] | None:
    """The latent units of ``model`` as index groups into its d flat latent coordinates.

    ``"element"``: every coordinate is a unit (``None``: the per-coordinate sweep).
    ``"channel"``: a spatial latent of shape ``(C, h, w)`` (the model's ``latent_shape``,
    flattened channel-major) has C units, each holding all h * w positions of one channel.
    ``"auto"`` (default): the model's own ``latent_units`` attribute when it has one (the
    diffusers adapter sets ``"channel"``), else ``"element"``.
    """
    if latent_units not in LATENT_UNITS:
        raise CircuitVAEError(f"latent_units must be one of {', '.join(map(repr, LATENT_UNITS))}, "
                              f"got {latent_units!r}")
    mode = latent_units
    if mode == "auto":
        mode = getattr(model, "latent_units", None) or "element"
    if mode == "element":
        return None
    shape = getattr(model, "latent_shape", None)
    if shape is None or len(shape) < 2:
        raise CircuitVAEError(
            f"latent_units='channel' needs a spatial latent: {type(model).__name__} declares no "
            "latent_shape (C, h, w); its latent is a vector, whose units are its elements")
    c = int(shape[0])
    per = int(np.prod(shape[1:]))
    if c * per != d:
        raise CircuitVAEError(f"latent_shape {tuple(shape)} holds {c * per} values, but the "
                              f"posterior has {d}")
    return [np.arange(j * per, (j + 1) * per) for j in range(c)]


def _sweep_pieces(n_blocks: int, n: int, size: int) -> list[tuple[int, int, slice]]:
    """The chunks of a sweep over ``n_blocks`` (latent, offset) blocks of ``n`` rows each, as
    ``(first block, end block, rows)``: whole blocks when one fits in ``size`` rows, else row
    ranges of one block."""
    if size >= n:
        per = size // n
        return [(b, min(b + per, n_blocks), slice(0, n)) for b in range(0, n_blocks, per)]
    return [(b, b + 1, slice(r, min(r + size, n)))
            for b in range(n_blocks) for r in range(0, n, size)]


def _fold_blocks(out: Tensor, base: Tensor, blocks: Tensor, jb: Tensor,
                 rms: Tensor, l2: Tensor, sq: Tensor) -> None:
    """Add the decoded rows of ``blocks`` (the same rows of each) to the sweep sums.

    Within a piece the sums run in the model's dtype (torch's pairwise summation), and each
    piece's result is added to the float64 totals: the error stays at the level of the
    float32 outputs themselves, without a float64 copy of every decoded value.
    """
    m = base.shape[0]
    diff = out.reshape(len(blocks), m, -1) - base.reshape(1, m, -1)
    sq_el = diff.square_()
    sum_sq = sq_el.sum(dim=2)
    p = sq_el.shape[2]
    rms.index_add_(0, blocks, (sum_sq / p).sqrt_().sum(dim=1).double())
    l2.index_add_(0, blocks, sum_sq.sqrt_().sum(dim=1).double())
    sq.index_add_(0, jb, sq_el.sum(dim=1).double())


def traversal(
    model: Any,
    x: Tensor,
    values: np.ndarray,
    *,
    latents: Sequence[int] | None = None,
    absolute: bool = True,
    max_batch_rows: int | None = None,
) -> np.ndarray:
    """Decoded traversals for plots, shape ``(L, K, N, *output_shape)``.

    ``latents`` picks the L latents moved (default all d, in order). ``values`` is ``(K,)`` (the
    same for every latent) or ``(L, K)``. With ``absolute=True`` the intervention is
    do(z_j = v); otherwise do(z_j = mu_j(x) + v). Other latents stay at mu(x). Meant for a
    handful of rows: the full output array is returned. The ``L * K * N`` codes (row order:
    latent, value, input row) are decoded in as few passes as the memory budget allows.
    """
    x = check_input(model, x)
    mu = encode_all(model, x, max_batch_rows=max_batch_rows).mean
    n, d = mu.shape
    chosen = list(range(d)) if latents is None else [int(j) for j in latents]
    if not chosen or any(not 0 <= j < d for j in chosen):
        raise CircuitVAEError(f"latents must be indices in 0..{d - 1}, got {list(latents or [])}")
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim == 1:
        grid = np.tile(grid, (len(chosen), 1))
    if grid.ndim != 2 or grid.shape[0] != len(chosen) or grid.shape[1] == 0:
        raise CircuitVAEError(
            f"values has shape {np.shape(values)}; expected (K,) or ({len(chosen)}, K)"
        )
    n_lat, k = grid.shape
    dev = mu.device
    cols = torch.as_tensor(chosen, device=dev).repeat_interleave(k * n)
    vals = torch.as_tensor(grid.reshape(-1), dtype=mu.dtype, device=dev).repeat_interleave(n)
    z = mu.repeat(n_lat * k, 1)
    rows = torch.arange(z.shape[0], device=dev)
    z[rows, cols] = vals if absolute else z[rows, cols] + vals
    out, _ = decode_all(model, z, max_batch_rows=max_batch_rows)
    return out.reshape(n_lat, k, n, *out.shape[1:]).cpu().numpy()
