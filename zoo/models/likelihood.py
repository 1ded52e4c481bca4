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

from collections.abc import Sequence
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
        if not self.blocks:
            return logits.clone()
        out = logits.clone()
        for block in self.blocks:
            idx = torch.as_tensor(block, device=logits.device)
            out[:, idx] = torch.softmax(logits[:, idx], dim=1)
        return out

    def extra_repr(self) -> str:
        return f"n_columns={self.n_columns}, categorical_blocks={len(self.blocks)}"


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
    """
    n = x.shape[1]
    numeric = torch.ones(n, dtype=torch.bool, device=x.device)
    total = x.new_zeros(x.shape[0])
    for block in blocks:
        idx = torch.as_tensor(block, device=x.device)
        numeric[idx] = False
        total = total - (x[:, idx] * torch.log_softmax(logits[:, idx], dim=1)).sum(1)
    total = total + 0.5 * ((x[:, numeric] - logits[:, numeric]) ** 2).sum(1)
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
