"""Discrete (code-swap) interventions for vector-quantized models (VQ-VAE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ..hooks import run_unchecked
from ..interventions.batching import chunk_rows, chunks, decode_all, encode_all
from ..interventions.input import GroupSpec, resolve_groups
from ..protocol import (
    CircuitVAEError,
    DiscretePosterior,
    Posterior,
    check_bool,
    check_choice,
    check_int,
    resolve_inputs,
)
from .specificity import group_effects, specificity_from_effects


@dataclass(frozen=True)
class CodeSwapResult:
    """Code-swap CES and specificity of a VQ model.

    ``ces`` = mean of ``ces_per_position`` ``(P_pos,)``; ``specificity`` = effect-weighted mean
    of ``specificity_per_position``; ``effects`` ``(P_pos, G)``; ``entries`` ``(P_pos, E)`` the
    codebook entries swapped in at each position.
    """

    ces: float
    ces_per_position: np.ndarray
    specificity: float
    specificity_per_position: np.ndarray
    effects: np.ndarray
    entries: np.ndarray
    n: int
    seed: int
    reduction: str


def code_swap(
    model: Any,
    data: Any,
    groups: GroupSpec = None,
    *,
    n: int | None = 1000,
    seed: int = 0,
    n_entries: int | None = 16,
    reduction: Literal["rms", "l2"] = "rms",
    group_reduce: Literal["mean", "sum"] = "mean",
    max_batch_rows: int | None = None,
    verbose: bool = False,
) -> CodeSwapResult:
    """CES and specificity by code swaps [paper: VQ-VAE needs discrete interventions;
    our choice: the procedure].

    For each latent position p and each swap entry c: replace ``codes[:, p]`` by c, decode
    ``codebook[codes].flatten(1)`` and compare with the decoded unswapped code. The swap entries
    are ``n_entries`` codebook entries per position drawn without replacement with ``seed``
    (``None``: every entry) [our choice, to bound the cost of a 512-entry codebook]; a row whose
    own code equals the entry is left out of that entry's average (no swap happened).
    CES_p = mean over rows and entries of RMS_P (or L2) of the output change; specificity as in
    :func:`circuitvae.specificity` with e_{p,g} the mean squared change in output group g.
    """
    check_int("n", n, minimum=1, allow_none=True)
    check_int("seed", seed, minimum=0)
    check_int("n_entries", n_entries, minimum=1, allow_none=True)
    check_choice("reduction", reduction, ("rms", "l2"))
    check_choice("group_reduce", group_reduce, ("mean", "sum"))
    check_bool("verbose", verbose)
    x = resolve_inputs(data, model, n=n, seed=seed)
    post = encode_all(model, x, max_batch_rows=max_batch_rows)
    return code_swap_of_rows(model, post, data, groups, seed=seed, n_entries=n_entries,
                             reduction=reduction, group_reduce=group_reduce,
                             max_batch_rows=max_batch_rows, verbose=verbose)


def code_swap_of_rows(
    model: Any,
    post: Posterior,
    data: Any,
    groups: GroupSpec = None,
    *,
    seed: int = 0,
    n_entries: int | None = 16,
    reduction: Literal["rms", "l2"] = "rms",
    group_reduce: Literal["mean", "sum"] = "mean",
    max_batch_rows: int | None = None,
    verbose: bool = False,
) -> CodeSwapResult:
    """:func:`code_swap` of rows already encoded (``post``, the posterior of checked rows);
    ``data`` supplies the output groups."""
    if not isinstance(post, DiscretePosterior) or post.codes is None:
        raise CircuitVAEError(
            f"{type(model).__name__} has a continuous posterior; code swaps need a "
            "DiscretePosterior (a vector-quantized model). Use circuitvae.ces instead"
        )
    codes, codebook = post.codes, post.codebook.detach()
    n_rows, n_pos = codes.shape
    k = codebook.shape[0]
    rng = np.random.default_rng(seed)
    if n_entries is None or n_entries >= k:
        entries = np.tile(np.arange(k), (n_pos, 1))
    else:
        entries = np.stack([np.sort(rng.choice(k, n_entries, replace=False))
                            for _ in range(n_pos)])
    e = entries.shape[1]
    dev = codes.device
    base_out, _ = decode_all(model, post.quantized, max_batch_rows=max_batch_rows)
    p_out = int(np.prod(base_out.shape[1:]))
    ent = torch.as_tensor(entries, device=dev)
    red = torch.zeros(n_pos, dtype=torch.float64, device=dev)
    cnt = torch.zeros(n_pos, dtype=torch.float64, device=dev)
    sq = torch.zeros(n_pos, p_out, dtype=torch.float64, device=dev)
    for s in chunks(n_pos * e * n_rows, chunk_rows(max_batch_rows, model, p_out), verbose=verbose,
                    desc="code swaps"):
        flat = torch.arange(s.start, s.stop, device=dev)
        pos, ei, rows = flat // (e * n_rows), (flat // n_rows) % e, flat % n_rows
        new = codes[rows].clone()
        ar = torch.arange(len(flat), device=dev)
        new[ar, pos] = ent[pos, ei]
        swapped = (new[ar, pos] != codes[rows, pos]).double()
        out = run_unchecked(model, codebook[new].flatten(1), method="decode").output
        d2 = ((out - base_out[rows]).flatten(1).double()) ** 2
        per_row = d2.mean(1).sqrt() if reduction == "rms" else d2.sum(1).sqrt()
        red.index_add_(0, pos, per_row * swapped)
        cnt.index_add_(0, pos, swapped)
        sq.index_add_(0, pos, d2 * swapped[:, None])
    cnt_np = cnt.cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_pos = red.cpu().numpy() / cnt_np
        sq_np = sq.cpu().numpy() / cnt_np[:, None]
    sq_np = np.nan_to_num(sq_np)
    cg = resolve_groups(data, groups, p_out, seed=seed)
    effects = group_effects(sq_np, cg, group_reduce)
    spec, spec_per, _ = specificity_from_effects(effects)
    return CodeSwapResult(
        ces=float(np.nanmean(per_pos)), ces_per_position=per_pos, specificity=spec,
        specificity_per_position=spec_per, effects=effects, entries=entries,
        n=int(n_rows), seed=seed, reduction=reduction,
    )
