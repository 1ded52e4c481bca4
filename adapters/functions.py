"""Adapter for a pair of functions plus the module that owns their parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from circuitvae.protocol import NotAVAEError

from .base import WrappedVAE


def wrap_functions(
    encode: Callable[[Tensor], Any] | None,
    decode: Callable[[Tensor], Any] | None,
    module: nn.Module | None,
    **options: Any,
) -> WrappedVAE:
    """Wrap ``encode``/``decode`` callables; ``module`` holds the submodules to hook."""
    if encode is None or decode is None:
        which = "encode" if encode is None else "decode"
        raise NotAVAEError(f"circuitvae.wrap(encode=..., decode=...) is missing {which}=")
    if not isinstance(module, nn.Module):
        raise NotAVAEError(
            "circuitvae.wrap(encode=f, decode=g) needs module=m, the nn.Module whose submodules "
            "f and g run (the hook engine hooks them)"
        )
    return WrappedVAE(module, encode, decode, **options)
