"""Adapter for pythae models (``clementchadebec/benchmark_VAE``).

pythae's ``forward`` takes a dict, samples, and computes the loss (FactorVAE also shuffles the
batch), so it is never used: the adapter calls the model's ``encoder`` and ``decoder`` directly.
Their ``ModelOutput`` carries ``embedding``/``log_covariance`` and ``reconstruction``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from circuitvae.protocol import NotAVAEError

from .base import WrappedVAE


def is_pythae(model: Any) -> bool:
    """A pythae model: ``type(model)`` comes from pythae, or it has pythae's shape."""
    if type(model).__module__.startswith("pythae"):
        return True
    return (
        isinstance(model, nn.Module)
        and hasattr(model, "model_config")
        and isinstance(getattr(model, "encoder", None), nn.Module)
        and isinstance(getattr(model, "decoder", None), nn.Module)
    )


def wrap_pythae(model: nn.Module, **options: Any) -> WrappedVAE:
    """Wrap a pythae model through its encoder and decoder."""
    config = getattr(model, "model_config", None)
    latent_dim = options.pop("latent_dim", None) or getattr(config, "latent_dim", None)
    if options.get("input_shape") is None and getattr(config, "input_dim", None) is not None:
        options["input_shape"] = tuple(config.input_dim)
    for part in ("encoder", "decoder"):
        if getattr(model, part, None) is None:
            raise NotAVAEError(f"pythae model {type(model).__name__} has no {part}")
    return WrappedVAE(model, model.encoder, model.decoder, latent_dim=latent_dim, **options)
