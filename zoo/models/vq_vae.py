"""VQ-VAE (van den Oord et al.): a deterministic encoder whose output is vector-quantized.

The encoder's last layer ``fc_z`` outputs ``z_e`` with ``P * e`` values (``num_positions`` P,
``embedding_dim`` e). ``encode`` returns a :class:`circuitvae.DiscretePosterior` with
``mean = z_e`` (B, P*e), ``logvar = None``, ``codes`` (B, P) the nearest codebook entries and
``codebook`` (K, e). ``decode(z)`` starts at ``hook_z``, then the ``quantizer`` site replaces each
position by its nearest codebook entry (so ``decode(z_e) == decode(z_q)`` exactly), then the
decoder runs on ``z_q``. Sites of the latent part: ``hook_mu``, ``hook_z``, ``quantizer``.

Loss (sums over elements, mean over the batch) [paper]::

    recon + codebook_weight * ||z_q - sg[z_e]||^2 + commitment * ||z_e - sg[z_q]||^2

with the straight-through estimator passing the decoder's gradient from ``z_q`` to ``z_e``.
The dict reports the two quantization terms unweighted as ``vq_codebook`` and
``vq_commitment``; there is no ``kl`` term (it is the constant ``log K``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from circuitvae.protocol import DiscretePosterior

from .base import LossTerms, ZooModel
from .config import VQVAEConfig


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantization of ``(B, P * e)`` vectors against a ``(K, e)`` codebook."""

    def __init__(self, num_codes: int, embedding_dim: int, num_positions: int) -> None:
        super().__init__()
        self.num_positions = num_positions
        self.embedding_dim = embedding_dim
        self.codebook = nn.Parameter(
            torch.empty(num_codes, embedding_dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        )

    def nearest(self, z: Tensor) -> Tensor:
        """Codes ``(B, P)``: index of the nearest codebook entry (squared L2) per position."""
        flat = z.reshape(-1, self.embedding_dim)  # (B * P, e)
        # ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2 as one matmul: no (B, P, K, e) intermediate.
        dist = torch.addmm(
            self.codebook.pow(2).sum(1), flat, self.codebook.t(), alpha=-2.0
        ) + flat.pow(2).sum(1, keepdim=True)
        return dist.argmin(-1).reshape(z.shape[0], self.num_positions)

    def forward(self, z: Tensor) -> Tensor:
        """``z_q`` flattened (B, P*e), with a straight-through gradient to ``z``.

        The value is exactly ``codebook[codes]``: ``z_q + (z - z.detach())`` adds an exact zero.
        """
        zq = self.codebook[self.nearest(z)].flatten(1)
        return zq.detach() + (z - z.detach())

    def extra_repr(self) -> str:
        k, e = self.codebook.shape
        return f"num_codes={k}, embedding_dim={e}, num_positions={self.num_positions}"


class VQVAE(ZooModel):
    """VQ-VAE: codebook of 512 entries, commitment 0.25, straight-through estimator."""

    architecture = "vq_vae"
    config_class = VQVAEConfig
    latent_sites = ("hook_mu", "hook_z", "quantizer")

    def _build_latent(self, width: int) -> None:
        cfg = self.config
        self.fc_z = nn.Linear(width, self.latent_dim)
        self.hook_mu = nn.Identity()
        self.quantizer = VectorQuantizer(cfg.num_codes, cfg.embedding_dim,  # type: ignore[attr-defined]
                                         cfg.num_positions)  # type: ignore[attr-defined]

    def encode(self, x: Tensor) -> DiscretePosterior:
        """``DiscretePosterior(mean=z_e, logvar=None, codes, codebook)``."""
        z_e = self.hook_mu(self.fc_z(self.encoder(x)))
        return DiscretePosterior(
            mean=z_e, logvar=None, codes=self.quantizer.nearest(z_e),
            codebook=self.quantizer.codebook.detach(),
        )

    def decode_logits(self, z: Tensor) -> Tensor:
        """``hook_z`` -> ``quantizer`` (nearest code per position) -> decoder logits."""
        return self.decoder(self.quantizer(self.hook_z(z)))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Reconstruction ``decode(z_e)``; deterministic in both modes."""
        return self.decode(self.encode(x).mean)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode ``n`` uniformly random code assignments."""
        k = self.quantizer.codebook.shape[0]
        device = generator.device if generator is not None else self.quantizer.codebook.device
        codes = torch.randint(k, (n, self.config.num_positions),  # type: ignore[attr-defined]
                              generator=generator, device=device)
        z = self.quantizer.codebook[codes.to(self.quantizer.codebook.device)].flatten(1)
        return self.decode(z)

    def loss_terms(self, x: Tensor,
                   generator: torch.Generator | None = None) -> tuple[LossTerms, Tensor]:
        cfg = self.config
        z_e = self.encode(x).mean
        zq = self.quantizer.codebook[self.quantizer.nearest(z_e)].flatten(1)
        codebook = (zq - z_e.detach()).pow(2).sum(1).mean()
        commitment = (z_e - zq.detach()).pow(2).sum(1).mean()
        recon = self.recon_loss(self.decode_logits(z_e), x)
        loss = (recon + cfg.codebook_weight * codebook  # type: ignore[attr-defined]
                + cfg.commitment * commitment)  # type: ignore[attr-defined]
        return {"loss": loss, "recon": recon, "vq_codebook": codebook,
                "vq_commitment": commitment}, z_e
