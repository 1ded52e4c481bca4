"""Adapters: bring any VAE to the engine's protocol with ``circuitvae.wrap``.

``wrap(model)`` picks the adapter: a model that already speaks the protocol is returned as is;
an nnsight envoy, a pythae model and any nn.Module with ``encode``/``decode`` are wrapped;
``wrap(encode=f, decode=g, module=m)`` handles everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from circuitvae.protocol import NotAVAEError, Posterior

from .base import WrappedVAE, to_output, to_posterior
from .diffusers import SpatialLatentVAE, is_diffusers_autoencoder, wrap_diffusers
from .functions import wrap_functions
from .module import wrap_module
from .nnsight import is_nnsight, wrap_nnsight
from .pythae import is_pythae, wrap_pythae


def wrap(
    model: Any = None,
    *,
    encode: Callable[[Tensor], Any] | None = None,
    decode: Callable[[Tensor], Any] | None = None,
    module: nn.Module | None = None,
    latent_dim: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    scale: str = "logvar",
    output: str = "auto",
    backend: str | None = None,
    latent_units: str | None = None,
) -> Any:
    """Bring ``model`` (or ``encode``/``decode`` functions) to the VAE protocol.

    No argument is needed for a module with ``encode``/``decode``: the input shape and the
    latent size are found on the first batch the engine is given (a probe ``encode`` of two
    rows), and the sites with them; ``latent_dim`` and ``input_shape`` (one row) set them up
    front. ``scale`` says how to read the second element of a ``(mu, s)`` tuple: ``"logvar"``
    (default), ``"std"`` or ``"var"`` (dicts are read by their keys: ``logvar``, ``log_std``,
    ``std``, ``var``...). ``output="logits"`` declares a Bernoulli decoder that returns logits
    (they become probabilities); ``"raw"`` analyses the decoder's values as they are.
    ``backend`` is the default hook backend of the result.

    diffusers' ``AutoencoderKL`` (a spatial latent ``(C, h, w)``) is flattened for the engine;
    ``latent_units`` says what a latent sweep moves: ``"channel"`` (default: all positions of
    one channel together) or ``"element"`` (each position).
    """
    options: dict[str, Any] = {"latent_dim": latent_dim, "input_shape": input_shape,
                               "scale": scale, "output": output}
    if backend is not None:
        options["backend"] = backend
    if model is None:
        return wrap_functions(encode, decode, module, **options)
    if encode is not None or decode is not None:
        target = module if module is not None else model
        return wrap_functions(encode or getattr(model, "encode", None),
                              decode or getattr(model, "decode", None), target, **options)
    if is_nnsight(model):
        return wrap_nnsight(model, **options)
    if is_diffusers_autoencoder(model):
        return wrap_diffusers(model, latent_units=latent_units, **options)
    if latent_units is not None:
        raise NotAVAEError("latent_units applies to spatial latents (diffusers' AutoencoderKL); "
                           f"{type(model).__name__} is not one")
    if _speaks_protocol(model):
        return model
    if is_pythae(model):
        return wrap_pythae(model, **options)
    if isinstance(model, nn.Module):
        return wrap_module(model, **options)
    raise NotAVAEError(
        f"cannot wrap {type(model).__name__}: it is not an nn.Module. Use "
        "circuitvae.wrap(encode=f, decode=g, module=m)"
    )


def _speaks_protocol(model: Any) -> bool:
    """Zoo models and earlier wrappers: they declare themselves as protocol speakers."""
    return isinstance(model, WrappedVAE) or bool(getattr(model, "speaks_circuitvae", False))


__all__ = ["Posterior", "SpatialLatentVAE", "WrappedVAE", "to_output", "to_posterior", "wrap"]
