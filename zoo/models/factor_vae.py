"""FactorVAE (Kim & Mnih): a VAE whose total correlation is estimated by a discriminator.

The discriminator ``D`` (an MLP with two logits: "from q(z)" and "from the product of marginals")
is a separate submodule; it never runs in ``encode``/``decode``, so it is not a site.

* VAE loss: ``recon + KL + gamma * TC``, ``TC = mean_i [D(z_i)_0 - D(z_i)_1]`` (the density-ratio
  trick, logits of the two classes) [paper, as disentanglement_lib].
* Discriminator loss: ``-(0.5 mean log softmax(D(z))_0 + 0.5 mean log softmax(D(perm(z)))_1)``,
  where ``perm`` shuffles each latent dimension independently across the batch with an explicit
  generator [paper]. It is trained with its own Adam optimizer (see ``disc_lr``/``disc_betas``)
  on the same batch's ``z``, detached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .base import LossTerms, ZooModel
from .config import FactorVAEConfig


def permute_dims(z: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Shuffle every column of ``z`` (B, d) independently across the batch."""
    b, d = z.shape
    device = generator.device if generator is not None else z.device
    cols = [torch.randperm(b, generator=generator, device=device).to(z.device) for _ in range(d)]
    idx = torch.stack(cols, dim=1)
    return torch.gather(z, 0, idx)


@contextlib.contextmanager
def _no_weight_grads(module: nn.Module) -> Iterator[None]:
    """Inside: ``module``'s parameters do not require grad (a graph built here has no
    gradient nodes for them); restored on exit."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def discriminator(latent_dim: int, hidden: int, layers: int) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with LeakyReLU(0.2), then 2 logits."""
    mods: list[nn.Module] = []
    width = latent_dim
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    mods.append(nn.Linear(width, 2))
    return nn.Sequential(*mods)


class FactorVAE(ZooModel):
    """FactorVAE: loss = recon + KL + gamma * TC (gamma = 10), TC from ``discriminator``."""

    architecture = "factor_vae"
    config_class = FactorVAEConfig

    def __init__(self, config: FactorVAEConfig | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.discriminator = discriminator(self.latent_dim, cfg.disc_hidden,  # type: ignore[attr-defined]
                                           cfg.disc_layers)  # type: ignore[attr-defined]

    def vae_parameters(self) -> list[nn.Parameter]:
        """Everything but the discriminator."""
        disc = {id(p) for p in self.discriminator.parameters()}
        return [p for p in self.parameters() if id(p) not in disc]

    def regularizer(self, mu: Tensor, logvar: Tensor, z: Tensor, kl: Tensor,
                    generator: torch.Generator | None) -> tuple[Tensor, LossTerms]:
        # the VAE step needs the gradient through D to z only: D's own weights are trained by
        # discriminator_loss, so their gradients are not built here (about a tenth of a
        # FactorVAE step; the z gradient is the same, bit for bit)
        with _no_weight_grads(self.discriminator):
            logits = self.discriminator(z)
        tc = (logits[:, 0] - logits[:, 1]).mean()
        return kl + self.config.gamma * tc, {"tc": tc}  # type: ignore[attr-defined]

    def discriminator_loss(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Cross-entropy of the discriminator on ``z`` (class 0) vs ``permute_dims(z)`` (class 1).

        Pass ``z`` detached when training the discriminator.
        """
        real = torch.log_softmax(self.discriminator(z), dim=1)[:, 0]
        fake = torch.log_softmax(self.discriminator(permute_dims(z, generator)), dim=1)[:, 1]
        return -(0.5 * real.mean() + 0.5 * fake.mean())
