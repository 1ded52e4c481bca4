"""The Bayesian attention VAE for anomaly detection (seed 001, fourth abstract; methods.md s. 9).

[seed] a Bayesian VAE with multi-head attention, epistemic and aleatoric uncertainty, beta
warm-up. [ours], each a config field:

* multi-head self-attention (``heads`` = 4) over the spatial positions of the encoder's last
  conv feature map and of the decoder's first, with a residual connection; each head's output
  passes through its own identity site (``encoder.<i>.head.<h>``, ``decoder.<i>.head.<h>``), so
  patching and mediation work per head. On tabular rows (MLP backbone) the last hidden layer
  is viewed as ``tokens`` = 8 tokens and attended the same way;
* Monte-Carlo dropout: ``nn.Dropout(p = 0.1)`` after every hidden ReLU of encoder and decoder;
  :func:`circuitvae.anomaly.anomaly_scores` keeps it on for T passes (epistemic uncertainty).
  In training the masks come from the trainer's generator (:func:`dropout_seeded`), so a
  seeded training run is reproducible like the other zoo models';
* a heteroscedastic decoder: the last layer outputs twice the channels, the mean (through the
  output activation) and a log-variance ``6 tanh(raw / 6)``; ``decode_logvar(z)`` returns it
  (aleatoric uncertainty) and the reconstruction term is the Gaussian NLL
  ``0.5 * sum((x - mean)^2 exp(-logvar) + logvar)`` (the constant dropped) over pixels or
  numeric columns; a tabular categorical block keeps its cross-entropy, as in the other zoo
  models;
* beta warm-up: the KL weight rises linearly, ``beta * min(1, e / warmup_epochs)`` in epoch e,
  advanced by the trainer through :meth:`start_epoch`; the losses of warm-up epochs do not
  drive early stopping (:meth:`losses_comparable`).

``attention=False`` gives the same model without attention (the study's ablation).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from circuitvae.protocol import CircuitVAEError

from .backbones import build_backbone
from .base import LossTerms, ZooModel
from .config import BayesAttentionVAEConfig
from .likelihood import mixed_nll
from .regularizers import kl_divergence

LOGVAR_BOUND = 6.0


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over the positions of ``(B, C, H, W)`` maps (or ``(B, T * E)`` rows seen
    as ``T`` tokens of ``E`` values), ``heads`` heads, residual output of the input's shape.

    ``head.<h>`` is the output of head h, ``(B, positions, C / heads)``: one site per head.
    """

    def __init__(self, channels: int, heads: int, tokens: int | None = None) -> None:
        super().__init__()
        if channels % heads:
            raise CircuitVAEError(f"{channels} channels do not split into {heads} heads")
        self.channels, self.heads, self.tokens = channels, heads, tokens
        self.qkv = nn.Linear(channels, 3 * channels)
        self.head = nn.ModuleList(nn.Identity() for _ in range(heads))
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        if self.tokens is None:  # (B, C, H, W) -> (B, HW, C)
            t = x.flatten(2).transpose(1, 2)
        else:  # (B, T * E) -> (B, T, E)
            t = x.reshape(shape[0], self.tokens, self.channels)
        b, n, c = t.shape
        dh = c // self.heads
        q, k, v = self.qkv(t).reshape(b, n, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
        o = att @ v  # (B, heads, N, dh)
        out = torch.cat([site(o[:, h]) for h, site in enumerate(self.head)], dim=-1)
        t = t + self.proj(out)
        if self.tokens is None:
            return t.transpose(1, 2).reshape(shape)
        return t.reshape(shape)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, heads={self.heads}, tokens={self.tokens}"


@contextlib.contextmanager
def dropout_seeded(generator: torch.Generator | None, device: torch.device) -> Iterator[None]:
    """Dropout masks drawn from ``generator``: torch's global RNG (which dropout uses) is
    seeded from it inside ``fork_rng`` and restored afterwards, so the trainer's runs stay
    reproducible from its explicit generators. Without a generator: the global RNG as is."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator,
                             device=generator.device))
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        yield


def _index_of(layers: list[nn.Module], kind: type[nn.Module]) -> int:
    return next(i for i, m in enumerate(layers) if isinstance(m, kind))


def _with_dropout(layers: list[nn.Module], p: float) -> list[nn.Module]:
    out: list[nn.Module] = []
    for layer in layers:
        out.append(layer)
        if isinstance(layer, nn.ReLU) and p > 0:
            out.append(nn.Dropout(p))
    return out


class BayesAttentionVAE(ZooModel):
    """Bayesian attention VAE: MC dropout, per-head attention sites, heteroscedastic decoder,
    beta warm-up (see the module doc)."""

    architecture = "bayes_attention_vae"
    config_class = BayesAttentionVAEConfig

    def __init__(self, config: BayesAttentionVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.channels = cfg.input_shape[0]
        twice = (2 * self.channels, *cfg.input_shape[1:])
        _, _, decoder = build_backbone(replace(cfg, input_shape=twice, features=None),
                                       self.latent_dim)
        self.encoder = nn.Sequential(*self._encoder_layers(list(self.encoder)))
        self.decoder = nn.Sequential(*self._decoder_layers(list(decoder)))
        self.register_buffer("epochs_done", torch.tensor(0))
        self.register_buffer("beta_now", torch.tensor(float(self._beta_at(1))))

    # -- construction

    def _attention(self, channels: int, tokens: int | None) -> MultiHeadSelfAttention:
        return MultiHeadSelfAttention(channels, self.config.heads, tokens)  # type: ignore[attr-defined]

    def _encoder_layers(self, layers: list[nn.Module]) -> list[nn.Module]:
        out = _with_dropout(layers, self.config.dropout)  # type: ignore[attr-defined]
        # conv: before Flatten (the last conv feature map); MLP: after the last hidden layer
        conv = self.config.backbone == "conv"
        return self._insert_attention(out, _index_of(out, nn.Flatten) if conv else len(out))

    def _decoder_layers(self, layers: list[nn.Module]) -> list[nn.Module]:
        out = _with_dropout(layers, self.config.dropout)  # type: ignore[attr-defined]
        # conv: after Unflatten (the first conv feature map); MLP: after the first hidden
        # layer, its activation and its dropout
        if self.config.backbone == "conv":
            return self._insert_attention(out, _index_of(out, nn.Unflatten) + 1)
        return self._insert_attention(out, 3 if self.config.dropout > 0 else 2)  # type: ignore[attr-defined]

    def _insert_attention(self, layers: list[nn.Module], at: int) -> list[nn.Module]:
        """``layers`` with one attention block at index ``at`` (unchanged when the config turns
        attention off)."""
        cfg = self.config
        if not cfg.attention:  # type: ignore[attr-defined]
            return layers
        if cfg.backbone == "conv":
            block = self._attention(cfg.conv_channels[-1], None)
        else:
            block = self._attention(cfg.hidden[-1] // cfg.tokens, cfg.tokens)  # type: ignore[attr-defined]
        return [*layers[:at], block, *layers[at:]]

    # -- the protocol

    def _decoded(self, z: Tensor) -> tuple[Tensor, Tensor]:
        full = self.decoder(self.hook_z(z))
        c = self.channels
        mean_logits, raw = full[:, :c], full[:, c:]
        return mean_logits, LOGVAR_BOUND * torch.tanh(raw / LOGVAR_BOUND)

    def decode_logits(self, z: Tensor) -> Tensor:
        return self._decoded(z)[0]

    def decode_logvar(self, z: Tensor) -> Tensor:
        """The decoder's per-element log-variance (aleatoric uncertainty), the input's shape."""
        return self._decoded(z)[1]

    # -- warm-up, called by the trainer

    def _beta_at(self, epoch: int) -> float:
        cfg = self.config
        return cfg.beta * min(1.0, epoch / max(cfg.warmup_epochs, 1))  # type: ignore[attr-defined]

    def start_epoch(self) -> dict[str, float]:
        epoch = int(self.epochs_done) + 1
        self.epochs_done.fill_(epoch)
        self.beta_now.fill_(self._beta_at(epoch))
        return {"beta": float(self.beta_now)}

    def losses_comparable(self) -> bool:
        return int(self.epochs_done) >= self.config.warmup_epochs  # type: ignore[attr-defined]

    # -- training

    def gaussian_nll(self, mean: Tensor, logvar: Tensor, x: Tensor) -> Tensor:
        """``0.5 * sum((x - mean)^2 exp(-logvar) + logvar)`` over elements, mean over rows."""
        per = 0.5 * ((x - mean) ** 2 * torch.exp(-logvar) + logvar)
        return per.flatten(1).sum(1).mean()

    def heteroscedastic_nll(self, logits: Tensor, logvar: Tensor, x: Tensor) -> Tensor:
        """The Gaussian NLL of the output mean with the predicted variance; on tabular rows
        over the numeric columns, plus the cross-entropy of each categorical block."""
        if not self._blocks:
            return self.gaussian_nll(self.output(logits), logvar, x)
        categorical = sorted(c for block in self._blocks for c in block)
        numeric = [c for c in range(x.shape[1]) if c not in set(categorical)]
        only_blocks = logits.clone()
        only_blocks[:, numeric] = x[:, numeric]  # their unit-variance term becomes 0
        ce = mixed_nll(only_blocks, x, self._blocks)
        if not numeric:
            return ce
        return ce + self.gaussian_nll(logits[:, numeric], logvar[:, numeric], x[:, numeric])

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        with dropout_seeded(generator, x.device):
            return super().forward(x, generator)

    def loss_terms(self, x: Tensor,
                   generator: torch.Generator | None = None) -> tuple[LossTerms, Tensor]:
        with dropout_seeded(generator, x.device):
            return self._loss_terms(x, generator)

    def _loss_terms(self, x: Tensor,
                    generator: torch.Generator | None) -> tuple[LossTerms, Tensor]:
        post = self.encode(x)
        assert post.logvar is not None
        z = self.reparameterize(post.mean, post.logvar, generator)
        logits, logvar = self._decoded(z)
        recon = self.heteroscedastic_nll(logits, logvar, x)
        kl = kl_divergence(post.mean, post.logvar)
        return {"loss": recon + self.beta_now.to(kl.dtype) * kl, "recon": recon, "kl": kl}, z
