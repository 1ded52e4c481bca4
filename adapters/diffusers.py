"""Adapter for diffusers' ``AutoencoderKL`` (the VAE of latent diffusion models).

``encode(x)`` returns an output whose ``latent_dist`` is a diagonal Gaussian over a spatial
latent ``(C, h, w)``; ``decode(z)`` returns an output whose ``.sample`` is the image. The adapter
flattens the latent channel-major to ``C * h * w`` coordinates for the engine and records
``latent_shape = (C, h, w)``. A latent *unit* is one channel by default (``latent_units=
"channel"``): a latent sweep moves all h * w positions of a channel together; ``"element"``
sweeps every position on its own. The latent is the encoder's own, unscaled (the diffusion
``scaling_factor`` is for the diffusion model's input, not part of the VAE).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from circuitvae.protocol import NotAVAEError, Posterior

from .base import WrappedVAE


def is_diffusers_autoencoder(model: Any) -> bool:
    """A diffusers autoencoder: its class comes from diffusers and it encodes and decodes."""
    return (isinstance(model, nn.Module) and type(model).__module__.startswith("diffusers")
            and callable(getattr(model, "encode", None))
            and callable(getattr(model, "decode", None)))


class SpatialLatentVAE(WrappedVAE):
    """A protocol view of a VAE with a spatial latent ``(C, h, w)``, flattened channel-major."""

    def __init__(self, module: nn.Module, *, latent_units: str = "channel",
                 **options: Any) -> None:
        if latent_units not in ("channel", "element"):
            raise NotAVAEError(f"latent_units must be 'channel' or 'element', got "
                               f"{latent_units!r}")
        self.latent_shape: tuple[int, ...] | None = None
        self.latent_units = latent_units
        super().__init__(module, self._encode_spatial, self._decode_spatial, **options)

    def _encode_spatial(self, x: Tensor) -> Posterior:
        dist = getattr(self.model.encode(x), "latent_dist", None)
        if dist is None or not hasattr(dist, "mean") or not hasattr(dist, "logvar"):
            raise NotAVAEError(f"{type(self.model).__name__}.encode returned no latent_dist "
                               "with mean and logvar (a diffusers AutoencoderKL output)")
        mean, logvar = dist.mean, dist.logvar
        self.latent_shape = tuple(int(s) for s in mean.shape[1:])
        return Posterior(mean.flatten(1), logvar.flatten(1))

    def _decode_spatial(self, z: Tensor) -> Tensor:
        if self.latent_shape is None:
            raise NotAVAEError(
                f"the latent shape of {type(self.model).__name__} is not known yet: encode a "
                "batch first (any circuitvae call given inputs does)")
        out = self.model.decode(z.reshape(z.shape[0], *self.latent_shape))
        return getattr(out, "sample", out)

    def extra_repr(self) -> str:
        return (f"latent_dim={self.latent_dim}, latent_shape={self.latent_shape}, "
                f"latent_units={self.latent_units!r}, backend={self.backend!r}")


def wrap_diffusers(model: nn.Module, *, latent_units: str | None = None,
                   **options: Any) -> SpatialLatentVAE:
    """Wrap an ``AutoencoderKL``; its input shape comes from its config when it declares one
    (``in_channels``, ``sample_size``), else from the first batch."""
    config = getattr(model, "config", None)
    size = getattr(config, "sample_size", None)
    channels = getattr(config, "in_channels", None)
    if options.get("input_shape") is None and isinstance(size, int) and isinstance(channels, int):
        options["input_shape"] = (channels, size, size)
    return SpatialLatentVAE(model, latent_units=latent_units or "channel", **options)
