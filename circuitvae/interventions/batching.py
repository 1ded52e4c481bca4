"""Shared plumbing of the interventions and metrics: chunked passes, encodings, site selection.

Every pass goes through :func:`circuitvae.hooks.run_unchecked` (one intervention primitive), in
chunks of at most ``max_batch_rows`` rows, under ``torch.inference_mode`` on the model's device.
The functions here take inputs already checked at a public entry point (a tensor on the model's
device in its dtype; valid site names) and check nothing again.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..hooks import run_unchecked
from ..protocol import (
    CircuitVAEError,
    DiscretePosterior,
    Posterior,
    Site,
    check_decoded_shape,
    check_int,
    check_posterior_shape,
)
from ..sitemap import site_info, site_modules, site_table

#: Upper bound on rows per forward pass when ``max_batch_rows`` is not given.
DEFAULT_MAX_ROWS = 8192
#: When ``max_batch_rows=None`` a chunk holds at most this many values of the widest site.
DEFAULT_MAX_ELEMENTS = 2**25


def chunk_rows(max_batch_rows: int | None, model: Any, row_elements: int = 1) -> int:
    """Rows per forward pass: ``max_batch_rows`` or, when ``None``, an automatic size.

    The automatic size is ``min(8192, 2**25 // widest)`` (at least 1), where ``widest`` is the
    largest per-row size among the model's sites, its input/output and ``row_elements``: one
    chunk's widest activation then stays under 128 MiB of float32. Models with large hidden
    intermediates that are not sites (e.g. a vector quantizer's distance table) may need an
    explicit, smaller ``max_batch_rows``.
    """
    if max_batch_rows is not None:
        return int(check_int("max_batch_rows", max_batch_rows, minimum=1, allow_none=True))
    widest = max(int(row_elements), output_units(model, None))
    try:
        widest = max([widest, *(s.n_units for s in site_table(model))])
    except CircuitVAEError:
        pass
    return max(1, min(DEFAULT_MAX_ROWS, DEFAULT_MAX_ELEMENTS // max(1, widest)))


def chunks(total: int, size: int, *, verbose: bool = False, desc: str = "") -> Iterator[slice]:
    """Slices covering ``range(total)`` in pieces of ``size``, with an optional progress bar."""
    starts = range(0, total, size)
    for start in tqdm(starts, desc=desc, disable=not verbose, leave=False):
        yield slice(start, min(total, start + size))


def encode_all(model: Any, x: Tensor, *, max_batch_rows: int | None = None) -> Posterior:
    """The posterior of every row of ``x``, computed in chunks and concatenated: the engine's one
    encode path. The model runs in the mode it is in (the engine never switches it)."""
    size = chunk_rows(max_batch_rows, model, int(np.prod(x.shape[1:])))
    parts = []
    for s in chunks(x.shape[0], size):
        post = run_unchecked(model, x[s], method="encode").output
        check_posterior_shape(model, post, s.stop - s.start, tuple(x[s].shape))
        parts.append(post)
    mean = torch.cat([p.mean for p in parts])
    logvar = None if parts[0].logvar is None else torch.cat([p.logvar for p in parts])
    if isinstance(parts[0], DiscretePosterior):
        codes = torch.cat([p.codes for p in parts])
        return DiscretePosterior(mean, logvar, codes=codes, codebook=parts[0].codebook)
    return Posterior(mean, logvar)


def decode_all(
    model: Any, z: Tensor, *, max_batch_rows: int | None = None, capture: Sequence[str] = ()
) -> tuple[Tensor, dict[str, Tensor]]:
    """``decode(z)`` in chunks; returns the output and the captured sites, concatenated."""
    outs: list[Tensor] = []
    caches: dict[str, list[Tensor]] = {name: [] for name in capture}
    size = chunk_rows(max_batch_rows, model, output_units(model, None))
    for s in chunks(z.shape[0], size):
        res = run_unchecked(model, z[s], method="decode", capture=capture)
        check_decoded_shape(model, res.output, s.stop - s.start, tuple(z[s].shape))
        outs.append(res.output)
        for name in capture:
            caches[name].append(res.cache[name])
    return torch.cat(outs), {k: torch.cat(v) for k, v in caches.items()}


def warn_if_discrete(model: Any, post: Posterior, discrete_ok: bool, what: str, *,
                     stacklevel: int = 3) -> None:
    """Warn when a continuous latent sweep is run on a vector-quantized model (``stacklevel``
    as in :func:`warnings.warn`, counted from this function)."""
    if isinstance(post, DiscretePosterior) and not discrete_ok:
        warnings.warn(
            f"{type(model).__name__} has a discrete (vector-quantized) posterior: the continuous "
            f"{what} sweeps z_e, which decode() re-quantizes, so effects are near zero. Use the "
            "code-swap variant circuitvae.metrics.discrete.code_swap (reported by analyze as "
            "vq_*), or pass discrete_ok=True to run the continuous sweep on z_e deliberately.",
            UserWarning,
            stacklevel=stacklevel,
        )


# --------------------------------------------------------------------------- sites


#: [our choice] modules that map each unit to itself (same shape, unit i out from unit i in):
#: the unit they output is the one they read, so a hidden unit is counted once, at the last of
#: a run of such sites (e.g. after the ReLU, not also before it)
ELEMENTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Identity, nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d,
)


def hidden_sites(model: Any, layers: str = "all", example: Tensor | None = None) -> list[Site]:
    """The hidden layers of ``model`` used for activation profiles, in forward order.

    [our choice] A hidden site is a *leaf* site (no other site is nested inside it, so a
    ``Sequential`` container is not counted beside its own children) of the encoder or decoder
    part, and **each hidden unit is counted once**: a leaf site directly followed (in forward
    order, same part) by an elementwise module of the same shape (:data:`ELEMENTWISE`: an
    activation, dropout, batch norm) holds the same units as it, so only the later one is kept
    (a Linear's pre-activation is dropped for the ReLU after it). The trailing decoder sites
    whose size equals the reconstruction's (the output layer and its activation) are not hidden
    and are dropped. ``layers`` picks ``"all"``, ``"encoder"`` or ``"decoder"``.

    Both rules read the module order, not the data flow: they assume a site's output feeds the
    next site (true of sequential encoders and decoders, the zoo's included). In a residual
    block (``relu(x + fc(h))``) the ReLU's units are not ``fc``'s, and a genuine hidden layer
    of the reconstruction's width just before the output layer is dropped with it; pass
    ``sites=`` explicitly for such models.
    """
    if layers not in ("all", "encoder", "decoder"):
        raise CircuitVAEError(f"layers must be 'all', 'encoder' or 'decoder', got {layers!r}")
    table = site_table(model, example)
    names = [s.name for s in table]
    leaves = [
        s for s in table
        if s.part in ("encoder", "decoder")
        and not any(other.startswith(s.name + ".") for other in names)
    ]
    modules = site_modules(model)
    leaves = [s for s, nxt in zip(leaves, [*leaves[1:], None], strict=True)
              if not (nxt is not None and nxt.part == s.part and nxt.shape == s.shape
                      and isinstance(modules.get(nxt.name), ELEMENTWISE))]
    dec = [s for s in leaves if s.part == "decoder"]
    if dec:
        out_units = output_units(model, example)
        while dec and dec[-1].n_units == out_units:
            dropped = dec.pop()
            leaves = [s for s in leaves if s.name != dropped.name]
    if layers != "all":
        leaves = [s for s in leaves if s.part == layers]
    return leaves


def output_units(model: Any, example: Tensor | None) -> int:
    """P, the number of output elements per row (the input size for a VAE; 1024 if unknown)."""
    shape = getattr(model, "input_shape", None)
    if shape is not None:
        return int(np.prod(shape))
    if example is None:
        return 1024
    return int(np.prod(example.shape[1:]))


def select_sites(model: Any, names: Sequence[str] | None, default: list[Site]) -> list[Site]:
    """Explicit site names, validated (:func:`circuitvae.sitemap.check_sites`) and put in forward
    order, or ``default`` when ``names`` is ``None``."""
    if names is None:
        return default
    return sorted(site_info(model, list(names)), key=lambda s: s.index)


__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "DEFAULT_MAX_ROWS",
    "check_decoded_shape",
    "check_posterior_shape",
    "chunk_rows",
    "chunks",
    "decode_all",
    "encode_all",
    "hidden_sites",
    "output_units",
    "select_sites",
    "warn_if_discrete",
]
