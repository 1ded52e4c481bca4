"""Adapter for any nn.Module with ``encode`` and ``decode`` methods."""

from __future__ import annotations

from typing import Any

from torch import nn

from circuitvae.protocol import NotAVAEError

from .base import WrappedVAE


def wrap_module(module: nn.Module, **options: Any) -> WrappedVAE:
    """Wrap a module whose ``encode``/``decode`` return any shape :func:`to_posterior` reads."""
    missing = [m for m in ("encode", "decode") if not callable(getattr(module, m, None))]
    if missing:
        raise NotAVAEError(
            f"{type(module).__name__} has no {' or '.join(m + '()' for m in missing)} method. "
            "Wrap it with circuitvae.wrap(encode=f, decode=g, module=m), naming the functions "
            "that map inputs to (mu, logvar) and latents to outputs"
        )
    return WrappedVAE(module, module.encode, module.decode, **options)
