"""The shared body of every Gaussian-posterior zoo model.

A zoo model speaks circuitvae's VAE protocol natively:

* ``encode(x) -> Posterior``: ``encoder`` -> ``fc_mu`` / ``fc_logvar`` -> identity sites
  ``hook_mu`` / ``hook_logvar``;
* ``decode(z)``: identity site ``hook_z`` -> ``decoder`` (logits) -> ``output`` (the output
  activation: sigmoid for images, identity + softmax per categorical block for tabular data);
* ``forward(x, generator=None)``: the reconstruction; deterministic in eval mode (``z = mean``),
  a reparameterized sample drawn with ``generator`` in train mode;
* ``loss(x, generator=None) -> dict``: ``loss``, ``recon``, ``kl`` and the architecture's
  regularizer terms. The loss never runs inside ``forward``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from circuitvae.protocol import CircuitVAEError, Posterior

from .backbones import build_backbone
from .config import VAEConfig
from .likelihood import categorical_blocks, output_activation, reconstruction_nll
from .regularizers import kl_divergence

LossTerms = dict[str, Tensor]


def standard_normal(shape: tuple[int, ...], like: Tensor,
                    generator: torch.Generator | None) -> Tensor:
    """``N(0, I)`` noise drawn with ``generator`` (on its device), moved to ``like``."""
    device = generator.device if generator is not None else like.device
    eps = torch.randn(shape, generator=generator, device=device, dtype=like.dtype)
    return eps.to(like.device)


class ZooModel(nn.Module):
    """Base class of the zoo: config handling, backbone, output activation, sites."""

    speaks_circuitvae: ClassVar[bool] = True
    latent_sites: ClassVar[tuple[str, ...]] = ("hook_mu", "hook_logvar", "hook_z")
    architecture: ClassVar[str] = ""
    config_class: ClassVar[type[VAEConfig]] = VAEConfig
    #: per-epoch records and trainer settings, set by ``circuitvae.zoo.train`` / ``load``
    history: list[dict[str, float]] | None = None
    training_record: dict[str, Any] | None = None

    def __init__(self, config: VAEConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            if "input_shape" not in overrides:
                raise CircuitVAEError(
                    f"{type(self).__name__} needs input_shape (one row, e.g. (D,) or "
                    "(1, 64, 64)), or a config"
                )
            config = self.config_class(**overrides)
        else:
            if type(config) is not self.config_class:
                raise CircuitVAEError(
                    f"{type(self).__name__} takes a {self.config_class.__name__}, got "
                    f"{type(config).__name__}"
                )
            if overrides:
                config = replace(config, **overrides)
        self.config = config
        self.latent_dim: int = int(config.latent_dim)  # type: ignore[arg-type]
        self.input_shape: tuple[int, ...] = config.input_shape
        self._blocks = categorical_blocks(config.features)
        self.encoder, width, self.decoder = build_backbone(config, self._decoder_input_dim())
        self._build_latent(width)
        self.hook_z = nn.Identity()
        self.output = output_activation(config.likelihood or "mixed", config.input_shape[0],
                                        self._blocks)

    # -- construction hooks overridden by subclasses

    def _decoder_input_dim(self) -> int:
        return self.latent_dim

    def _build_latent(self, width: int) -> None:
        self.fc_mu = nn.Linear(width, self.latent_dim)
        self.fc_logvar = nn.Linear(width, self.latent_dim)
        self.hook_mu = nn.Identity()
        self.hook_logvar = nn.Identity()

    # -- the protocol

    def encode(self, x: Tensor) -> Posterior:
        """``q(z|x)`` as a :class:`circuitvae.Posterior` of shape ``(B, latent_dim)``."""
        h = self.encoder(x)
        return Posterior(self.hook_mu(self.fc_mu(h)), self.hook_logvar(self.fc_logvar(h)))

    def decode_logits(self, z: Tensor) -> Tensor:
        """The decoder's pre-activation output (what the loss uses), from ``hook_z``."""
        return self.decoder(self.hook_z(z))

    def decode(self, z: Tensor) -> Tensor:
        """The reconstruction in output space (pixel probabilities / tabular values)."""
        return self.output(self.decode_logits(z))

    def reparameterize(self, mu: Tensor, logvar: Tensor,
                       generator: torch.Generator | None = None) -> Tensor:
        """``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)`` drawn with ``generator``."""
        return mu + torch.exp(0.5 * logvar) * standard_normal(tuple(mu.shape), mu, generator)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Reconstruction: ``decode(mean)`` in eval mode, ``decode(sample)`` in train mode."""
        post = self.encode(x)
        if self.training and post.logvar is not None:
            return self.decode(self.reparameterize(post.mean, post.logvar, generator))
        return self.decode(post.mean)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws from the prior, decoded to output space."""
        ref = next(self.parameters())
        return self.decode(standard_normal((n, self.latent_dim), ref, generator))

    # -- training

    def start_epoch(self) -> dict[str, float]:
        """Called by the trainer before every epoch; a model with a schedule advances it here
        and returns what to record in the epoch's history (the plain zoo models: nothing)."""
        return {}

    def losses_comparable(self) -> bool:
        """Whether this epoch's loss may drive early stopping and the best-epoch choice
        (False while a schedule still changes the objective)."""
        return True

    def vae_parameters(self) -> list[nn.Parameter]:
        """Parameters the main (VAE) optimizer updates."""
        return list(self.parameters())

    def recon_loss(self, logits: Tensor, x: Tensor) -> Tensor:
        """Negative log-likelihood, summed over elements, averaged over the batch."""
        return reconstruction_nll(self.config.likelihood or "mixed", logits, x, self._blocks)

    def loss_terms(self, x: Tensor,
                   generator: torch.Generator | None = None) -> tuple[LossTerms, Tensor]:
        """The loss terms and the sampled latent ``z`` (the trainer needs it for FactorVAE)."""
        post = self.encode(x)
        assert post.logvar is not None
        z = self.reparameterize(post.mean, post.logvar, generator)
        recon = self.recon_loss(self.decode_logits(z), x)
        kl = kl_divergence(post.mean, post.logvar)
        reg, extra = self.regularizer(post.mean, post.logvar, z, kl, generator)
        return {"loss": recon + reg, "recon": recon, "kl": kl, **extra}, z

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> LossTerms:
        """The training objective and its terms (scalars), e.g. ``{"loss", "recon", "kl"}``."""
        return self.loss_terms(x, generator)[0]

    def regularizer(self, mu: Tensor, logvar: Tensor, z: Tensor, kl: Tensor,
                    generator: torch.Generator | None) -> tuple[Tensor, LossTerms]:
        """The latent part of the loss (added to ``recon``) and its named extra terms."""
        return kl, {}

    def extra_repr(self) -> str:
        return f"architecture={self.architecture!r}, latent_dim={self.latent_dim}"
