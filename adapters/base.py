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

MEAN_KEYS = ("mean", "mu", "loc", "z_mean", "z_mu", "embedding")
LOGVAR_KEYS = ("logvar", "log_var", "log_variance", "log_covariance", "z_logvar", "z_log_var")
LOG_STD_KEYS = ("log_std", "log_sigma", "log_scale")
STD_KEYS = ("std", "scale", "sigma")
VAR_KEYS = ("var", "variance")
#: keys an encoder may return beside the posterior's parameters (a sample of z): not read
SAMPLE_KEYS = ("z", "sample", "z_sample", "latent")
OUTPUT_KEYS = ("reconstruction", "recon", "x_hat", "x_recon", "output", "mean", "probs")
#: decode outputs that are logits: used only where the likelihood is declared (output=)
LOGIT_KEYS = ("logits", "x_logits")
OUTPUTS = ("auto", "logits", "raw")


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
        return _mapping_posterior(raw, where)
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


def _mapping_posterior(raw: Mapping[str, Any], where: str) -> Posterior:
    """A posterior from a dict: one mean key and at most one spread key (log-variance, log-std,
    std or variance, each converted to the log-variance); any other key is an error, never a
    silent drop (a sample of z under :data:`SAMPLE_KEYS` is allowed and not read)."""
    mean_key = _first_key(raw, MEAN_KEYS)
    if mean_key is None:
        raise NotAVAEError(
            f"{where} returned a mapping with keys {list(raw)}; none is a mean "
            f"({', '.join(MEAN_KEYS)}). Use circuitvae.wrap(encode=..., decode=..., module=m)"
        )
    spreads = [(k, kind) for keys, kind in ((LOGVAR_KEYS, "logvar"), (LOG_STD_KEYS, "log_std"),
                                            (STD_KEYS, "std"), (VAR_KEYS, "var"))
               for k in keys if k in raw and raw[k] is not None]
    known = {mean_key, *(k for k, _ in spreads), *SAMPLE_KEYS}
    unknown = [k for k in raw if k not in known and raw[k] is not None]
    if len(spreads) > 1 or unknown:
        extra = [k for k, _ in spreads[1:]] + unknown
        raise NotAVAEError(
            f"{where} returned a mapping with keys {list(raw)}: mean {mean_key!r}, but "
            f"{extra} cannot be read unambiguously. Understood spreads: log-variance "
            f"({', '.join(LOGVAR_KEYS)}), log-std ({', '.join(LOG_STD_KEYS)}), std "
            f"({', '.join(STD_KEYS)}), variance ({', '.join(VAR_KEYS)}); or pass "
            "encode=lambda x: (mu, logvar) to circuitvae.wrap"
        )
    mean = raw[mean_key]
    if not spreads:
        return Posterior(mean, None)
    key, kind = spreads[0]
    s = raw[key]
    if kind == "log_std":
        return Posterior(mean, 2.0 * s)
    if kind == "std":
        return Posterior(mean, 2.0 * torch.log(s))
    if kind == "var":
        return Posterior(mean, torch.log(s))
    return Posterior(mean, s)


def to_output(raw: Any, *, where: str = "decode", output: str = "auto") -> Tensor:
    """Read the reconstruction from the common return shapes of ``decode``.

    ``output="logits"`` declares a Bernoulli likelihood: the returned logits (a tensor, or the
    ``logits`` of a dict or distribution) become probabilities by a sigmoid. ``"raw"`` takes the
    returned values as they are. ``"auto"`` (default) reads tensors, distributions (their mean)
    and dicts with an output key, and refuses a dict of logits (it cannot know the likelihood).
    """
    if output not in OUTPUTS:
        raise NotAVAEError(f"output must be one of {OUTPUTS}, got {output!r}")
    if isinstance(raw, torch.distributions.Distribution):
        if output == "logits":
            if not isinstance(raw, torch.distributions.Bernoulli):
                raise NotAVAEError(
                    f"{where} returned a {type(raw).__name__}; output='logits' declares a "
                    "Bernoulli decoder. Leave output='auto' to use the distribution's mean")
            return torch.sigmoid(raw.logits)
        return raw.mean
    if isinstance(raw, Mapping):
        return _mapping_output(raw, where, output)
    if isinstance(raw, tuple | list) and raw and isinstance(raw[0], Tensor):
        raw = raw[0]
    if isinstance(raw, Tensor):
        return torch.sigmoid(raw) if output == "logits" else raw
    raise NotAVAEError(f"{where} returned {type(raw).__name__}; expected a tensor")


def _mapping_output(raw: Mapping[str, Any], where: str, output: str) -> Tensor:
    logits_key = _first_key(raw, LOGIT_KEYS)
    out_key = _first_key(raw, OUTPUT_KEYS)
    if output == "logits":
        if logits_key is None:  # never a sigmoid of values that may be probabilities already
            raise NotAVAEError(f"{where} returned a mapping with keys {list(raw)}; "
                               f"output='logits' needs a logits key ({', '.join(LOGIT_KEYS)})")
        return torch.sigmoid(raw[logits_key])
    if out_key is not None:
        return raw[out_key]
    if logits_key is not None:
        if output == "raw":
            return raw[logits_key]
        raise NotAVAEError(
            f"{where} returned {logits_key!r}: logits, not a reconstruction. Declare the "
            "likelihood: circuitvae.wrap(model, output='logits') turns Bernoulli logits into "
            "probabilities (a sigmoid); output='raw' analyses the logits as they are"
        )
    raise NotAVAEError(f"{where} returned a mapping with keys {list(raw)}; none is an output "
                       f"({', '.join(OUTPUT_KEYS)})")


def _first_key(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return key
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
        output: str = "auto",
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
        if output not in OUTPUTS:
            raise NotAVAEError(f"output must be one of {OUTPUTS}, got {output!r}")
        self._output = output
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.backend = backend
        self.latent_dim: int | None = latent_dim if latent_dim is not None else self._latent_attr()
        if self.latent_dim is None and self.input_shape is not None:
            self.latent_dim = self._probe(torch.zeros(2, *self.input_shape), "input_shape=")

    def encode(self, x: Tensor) -> Posterior:
        post = to_posterior(self._encode_fn(x), scale=self._scale)
        mean = self.hook_mu(post.mean)
        logvar = self.hook_logvar(post.logvar) if post.logvar is not None else None
        return Posterior(mean, logvar)

    def decode(self, z: Tensor) -> Tensor:
        return to_output(self._decode_fn(self.hook_z(z)), output=self._output)

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

    def discover(self, example: Tensor) -> None:
        """Learn the input shape (one row of ``example``) and, when unknown, the latent size
        from a probe pass: ``encode`` of the first two rows (no grad, eval mode). The engine
        calls this with the first input batch it is given."""
        self.input_shape = tuple(int(s) for s in example.shape[1:])
        if self.latent_dim is None:
            try:
                self.latent_dim = self._probe(example[:2], "the first input batch")
            except BaseException:
                self.input_shape = None  # not learnt: the next batch tries again
                raise

    def _latent_attr(self) -> int | None:
        for attr in ("latent_dim", "z_dim", "zdim", "latent_size", "n_latent"):
            value = getattr(self.model, attr, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    def _probe(self, example: Tensor, source: str) -> int:
        """The latent size from ``encode(example)``; a failure says it was the probe."""
        param = next(self.model.parameters(), None)
        if param is not None:
            example = example.to(device=param.device, dtype=param.dtype)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                mean = self.encode(example).mean
        except NotAVAEError:
            raise
        except Exception as err:  # noqa: BLE001 - re-raised with what the probe was
            raise NotAVAEError(
                f"the probe pass that finds the latent size of {type(self.model).__name__} "
                f"failed: encode of a batch of shape {tuple(example.shape)} (from {source}) "
                f"raised {type(err).__name__}: {err}. Check the input shape, or pass "
                "latent_dim= to circuitvae.wrap"
            ) from err
        finally:
            self.model.train(was_training)
        return int(math.prod(mean.shape[1:]))

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, backend={self.backend!r}"
