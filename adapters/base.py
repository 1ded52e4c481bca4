"""The wrapper every adapter returns: a thin nn.Module that speaks the VAE protocol.

It keeps the user's module untouched as ``.model`` and adds three identity modules so the latent
is hookable whatever the user's code looks like: ``hook_mu`` and ``hook_logvar`` (the posterior
parameters leaving the encoder) and ``hook_z`` (the latent entering the decoder). Site names are
the user's own module names plus these three.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from circuitvae.protocol import NotAVAEError, Posterior

MEAN_KEYS = ("mean", "mu", "loc", "z_mean", "embedding")
LOGVAR_KEYS = ("logvar", "log_var", "log_variance", "log_covariance", "z_logvar")
STD_KEYS = ("std", "scale", "sigma")
OUTPUT_KEYS = ("reconstruction", "recon", "x_hat", "x_recon", "output", "mean", "logits")


def to_posterior(raw: Any, *, scale: str = "logvar", where: str = "encode") -> Posterior:
    """Read a posterior from the common return shapes of ``encode``.

    Understood: a :class:`Posterior`; a ``(mu, second)`` tuple, where ``second`` is read as
    ``scale`` (``"logvar"``, ``"std"`` or ``"var"``); a ``torch.distributions`` Normal (or an
    Independent of one); a mapping with a mean key (``mu``, ``mean``, ``loc``, ``embedding``...)
    and a log-variance or std key (``logvar``, ``log_var``, ``log_covariance``, ``std``...);
    a bare tensor (a deterministic encoder).
    """
    if isinstance(raw, Posterior):
        return raw
    if isinstance(raw, Tensor):
        return Posterior(raw, None)
    if isinstance(raw, torch.distributions.Independent):
        raw = raw.base_dist
    if isinstance(raw, torch.distributions.Normal):
        return Posterior(raw.loc, 2.0 * torch.log(raw.scale))
    if isinstance(raw, Mapping):
        mean = _first(raw, MEAN_KEYS)
        if mean is None:
            raise NotAVAEError(
                f"{where} returned a mapping with keys {list(raw)}; none is a mean "
                f"({', '.join(MEAN_KEYS)}). Use circuitvae.wrap(encode=..., decode=..., module=m)"
            )
        logvar = _first(raw, LOGVAR_KEYS)
        if logvar is None and (std := _first(raw, STD_KEYS)) is not None:
            logvar = 2.0 * torch.log(std)
        return Posterior(mean, logvar)
    if isinstance(raw, tuple | list) and len(raw) == 2 and all(isinstance(t, Tensor) for t in raw):
        mean, second = raw
        if scale == "logvar":
            return Posterior(mean, second)
        if scale == "std":
            return Posterior(mean, 2.0 * torch.log(second))
        if scale == "var":
            return Posterior(mean, torch.log(second))
        raise NotAVAEError(f"scale must be 'logvar', 'std' or 'var', got {scale!r}")
    shape = f"a {len(raw)}-tuple" if isinstance(raw, tuple | list) else type(raw).__name__
    raise NotAVAEError(
        f"{where} returned {shape}; circuitvae understands (mu, logvar), a Normal distribution, "
        "a dict with mu/logvar keys or a tensor. Pass encode=lambda x: ... to circuitvae.wrap to "
        "return one of those"
    )


def to_output(raw: Any, *, where: str = "decode") -> Tensor:
    """Read the reconstruction from the common return shapes of ``decode``."""
    if isinstance(raw, Tensor):
        return raw
    if isinstance(raw, torch.distributions.Distribution):
        return raw.mean
    if isinstance(raw, Mapping):
        out = _first(raw, OUTPUT_KEYS)
        if out is not None:
            return out
        raise NotAVAEError(f"{where} returned a mapping with keys {list(raw)}; none is an output")
    if isinstance(raw, tuple | list) and raw and isinstance(raw[0], Tensor):
        return raw[0]
    raise NotAVAEError(f"{where} returned {type(raw).__name__}; expected a tensor")


def _first(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return None


class WrappedVAE(nn.Module):
    """A protocol-speaking view of a user's model. Build it with ``circuitvae.wrap``."""

    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(
        self,
        module: nn.Module,
        encode_fn: Callable[[Tensor], Any],
        decode_fn: Callable[[Tensor], Any],
        *,
        latent_dim: int | None = None,
        input_shape: tuple[int, ...] | None = None,
        scale: str = "logvar",
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.model = module
        self.hook_mu = nn.Identity()
        self.hook_logvar = nn.Identity()
        self.hook_z = nn.Identity()
        self._site_modules: dict[str, nn.Module] | None = None
        self._encode_fn = encode_fn
        self._decode_fn = decode_fn
        self._scale = scale
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.backend = backend
        self.latent_dim = latent_dim if latent_dim is not None else self._infer_latent_dim()

    def encode(self, x: Tensor) -> Posterior:
        post = to_posterior(self._encode_fn(x), scale=self._scale)
        mean = self.hook_mu(post.mean)
        logvar = self.hook_logvar(post.logvar) if post.logvar is not None else None
        return Posterior(mean, logvar)

    def decode(self, z: Tensor) -> Tensor:
        return to_output(self._decode_fn(self.hook_z(z)))

    def forward(self, x: Tensor) -> Tensor:
        """Deterministic reconstruction ``decode(encode(x).mean)``."""
        return self.decode(self.encode(x).mean)

    def site_modules(self) -> dict[str, nn.Module]:
        """The user's module names plus the three latent hooks."""
        if self._site_modules is None:
            named = {n: m for n, m in self.model.named_modules() if n}
            self._site_modules = {**named, "hook_mu": self.hook_mu,
                                  "hook_logvar": self.hook_logvar, "hook_z": self.hook_z}
        return self._site_modules

    def _infer_latent_dim(self) -> int:
        for attr in ("latent_dim", "z_dim", "zdim", "latent_size", "n_latent"):
            value = getattr(self.model, attr, None)
            if isinstance(value, int):
                return value
        if self.input_shape is not None:
            with torch.no_grad():
                return int(math.prod(self.encode(torch.zeros(1, *self.input_shape)).mean.shape[1:]))
        raise NotAVAEError(
            f"cannot tell the latent size of {type(self.model).__name__}: it has no latent_dim "
            "attribute; pass latent_dim= or input_shape= to circuitvae.wrap"
        )

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, backend={self.backend!r}"
