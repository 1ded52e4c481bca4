"""Reconstruction likelihoods and the output activation (logits -> output space).

Reduction convention (fixed for every zoo model; beta's meaning depends on it): the negative
log-likelihood is **summed over output elements and averaged over the batch**, as
disentanglement_lib and pythae do.

* Bernoulli (binary images): ``sum BCE(sigmoid(logits), x)``, computed from logits.
* Mixed tabular: numeric columns are Gaussian with unit variance, ``0.5 * (x - x_hat)^2`` (the
  constant ``0.5 * log(2 pi)`` per column is dropped); each categorical one-hot block is a
  categorical with cross-entropy ``-sum_j x_j log softmax(logits_block)_j``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MixedOutput(nn.Module):
    """Tabular output activation: numeric columns unchanged, softmax per categorical block."""

    def __init__(self, n_columns: int, blocks: Sequence[Sequence[int]]) -> None:
        super().__init__()
        self.n_columns = n_columns
        self.blocks = [tuple(int(c) for c in b) for b in blocks]

    def forward(self, logits: Tensor) -> Tensor:
        out = logits.clone()
        if not self.blocks:
            return out
        layout = block_layout(self.blocks, logits.shape[1], logits.device)
        cat = logits[:, layout.categorical]
        out[:, layout.categorical] = torch.exp(cat - block_logsumexp(cat, layout))
        return out

    def extra_repr(self) -> str:
        return f"n_columns={self.n_columns}, categorical_blocks={len(self.blocks)}"


@dataclass(frozen=True)
class BlockLayout:
    """Where the categorical blocks sit: ``categorical`` / ``numeric`` column indices, and
    ``block`` ``(len(categorical),)``: the block number of each categorical column."""

    categorical: Tensor
    numeric: Tensor
    block: Tensor
    n_blocks: int


@functools.lru_cache(maxsize=64)
def _layout(blocks: tuple[tuple[int, ...], ...], n_columns: int, device: str) -> BlockLayout:
    cat = [c for b in blocks for c in b]
    ids = [i for i, b in enumerate(blocks) for _ in b]
    in_block = set(cat)
    numeric = [c for c in range(n_columns) if c not in in_block]
    dev = torch.device(device)
    as_long = functools.partial(torch.tensor, dtype=torch.long, device=dev)
    return BlockLayout(as_long(cat), as_long(numeric), as_long(ids), len(blocks))


def block_layout(blocks: Sequence[Sequence[int]], n_columns: int,
                 device: torch.device) -> BlockLayout:
    """The (cached) :class:`BlockLayout` of ``blocks`` over ``n_columns`` columns."""
    return _layout(tuple(tuple(int(c) for c in b) for b in blocks), n_columns, str(device))


def block_logsumexp(cat_logits: Tensor, layout: BlockLayout) -> Tensor:
    """``logsumexp`` of each row over each block, broadcast back to the block's columns.

    All blocks at once, O(rows x columns): the per-block max (no gradient: the max shift
    cancels in the gradient of logsumexp) by ``scatter_reduce``, the sums of exponentials by
    ``scatter_add``.
    """
    rows = cat_logits.shape[0]
    ids = layout.block.expand(rows, -1)
    shape = (rows, layout.n_blocks)
    with torch.no_grad():
        peak = cat_logits.new_full(shape, -torch.inf).scatter_reduce(
            1, ids, cat_logits.detach(), reduce="amax")
    peak_col = peak.gather(1, ids)
    sums = cat_logits.new_zeros(shape).scatter_add(1, ids, torch.exp(cat_logits - peak_col))
    return peak_col + torch.log(sums).gather(1, ids)


def categorical_blocks(features: Sequence[dict[str, Any]] | None) -> list[tuple[int, ...]]:
    """The column blocks of the categorical features."""
    return [tuple(f["columns"]) for f in features or () if f["kind"] == "categorical"]


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """``mean_batch sum_elements BCE-with-logits(logits, x)`` (numerically stable)."""
    per = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return per.flatten(1).sum(1).mean()


def mixed_nll(logits: Tensor, x: Tensor, blocks: Sequence[Sequence[int]]) -> Tensor:
    """Unit-variance Gaussian on numeric columns + cross-entropy per categorical block.

    ``mean_batch [ sum_numeric 0.5 (x - logits)^2 - sum_blocks sum_j x_j log_softmax(block)_j ]``
    with every block's log-softmax computed at once (:func:`block_logsumexp`).
    """
    if not blocks:
        return (0.5 * (x - logits) ** 2).sum(1).mean()
    layout = block_layout(blocks, x.shape[1], x.device)
    cat = logits[:, layout.categorical]
    log_softmax = cat - block_logsumexp(cat, layout)
    total = -(x[:, layout.categorical] * log_softmax).sum(1)
    if layout.numeric.numel():
        num = layout.numeric
        total = total + 0.5 * ((x[:, num] - logits[:, num]) ** 2).sum(1)
    return total.mean()


def reconstruction_nll(likelihood: str, logits: Tensor, x: Tensor,
                       blocks: Sequence[Sequence[int]]) -> Tensor:
    """Dispatch on the config's likelihood name."""
    if likelihood == "bernoulli":
        return bernoulli_nll(logits, x)
    return mixed_nll(logits, x, blocks)


def output_activation(likelihood: str, n_columns: int,
                      blocks: Sequence[Sequence[int]]) -> nn.Module:
    """Sigmoid for Bernoulli outputs, :class:`MixedOutput` for tabular ones."""
    if likelihood == "bernoulli":
        return nn.Sigmoid()
    return MixedOutput(n_columns, blocks)
