"""The VAE-SAE: a VAE whose encoder passes through a scheduled sparse layer (methods.md s. 8).

[seed] a hybrid VAE-SAE whose active units are cut from 500 to 50 over 50 epochs, by Top-k or
by L1. [ours] where the layer sits and how each method is applied::

    encoder trunk -> sparse_in Linear(width, 500) -> sparse_act ReLU -> sparse (Top-k / identity)
                  -> fc_mu, fc_logvar -> hook_mu, hook_logvar -> z -> decoder

The sparse code is the site ``sparse`` (every engine method works on it: CES, patching,
mediation, :func:`circuitvae.metrics.sparsity.site_sparsity`).

* ``sparsity="topk"``: ``sparse`` keeps the ``k`` largest of the 500 ReLU outputs of each row
  and zeroes the rest; ``k`` follows :class:`~.sparsity_schedule.SparsitySchedule` (in eval
  mode too: the current ``k`` is a buffer saved with the weights).
* ``sparsity="l1"``: ``sparse`` is the identity; the loss adds ``lambda * mean_rows sum_u s_u``
  (the code is non-negative), with lambda adapted each epoch by the controller of
  :func:`~.sparsity_schedule.l1_controller_step` so that the mean active units per row tracks
  the schedule's ``k``.
* ``auxk=True`` (Top-k only; an ablation beyond the seed, after Gao et al. 2024): units that did
  not fire on any training row of the previous epoch are *dead*; each row's ``auxk_k`` largest
  dead-unit activations are added to its (detached) sparse code and decoded, and
  ``auxk_coef`` times that reconstruction's NLL joins the loss, so the dead units receive a
  gradient that trains them to explain what the live code leaves unexplained.

The trainer calls :meth:`VAESAE.start_epoch` before every epoch (the schedule advances with the
model's own epoch count, saved as a buffer) and asks :meth:`VAESAE.losses_comparable` whether
the loss can drive early stopping, the plateau schedule and the choice of the best epoch: not
while the schedule still removes units (the loss rises as k falls).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from circuitvae.protocol import CircuitVAEError, Posterior, check_bool, check_int

from .base import LossTerms, ZooModel
from .config import VAESAEConfig
from .regularizers import kl_divergence
from .sparsity_schedule import SparsitySchedule, l1_controller_step


class TopK(nn.Module):
    """Keeps the ``k`` largest entries of each row (``k`` a buffer); ``enabled=False``: identity."""

    def __init__(self, units: int, k: int, enabled: bool) -> None:
        super().__init__()
        self.units = check_int("units", units, minimum=1)
        self.enabled = check_bool("enabled", enabled)
        self.register_buffer("k", torch.tensor(check_int("k", k, minimum=1)))

    def forward(self, a: Tensor) -> Tensor:
        if a.ndim != 2 or a.shape[1] != self.units:
            raise CircuitVAEError(f"TopK expects (batch, {self.units}) activations, got shape "
                                  f"{tuple(a.shape)}")
        k = int(self.k)
        if not self.enabled or k >= self.units:
            return a
        values, index = a.topk(k, dim=1)
        return torch.zeros_like(a).scatter(1, index, values)

    def extra_repr(self) -> str:
        return f"units={self.units}, k={int(self.k)}, enabled={self.enabled}"


class VAESAE(ZooModel):
    """VAE with a scheduled 500-unit sparse layer before (mu, logvar); see the module doc."""

    architecture = "vae_sae"
    config_class = VAESAEConfig

    def __init__(self, config: VAESAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.register_buffer("epochs_done", torch.tensor(0))
        self.register_buffer("l1_lambda", torch.tensor(float(cfg.l1_init)))  # type: ignore[attr-defined]
        units = cfg.sparse_units  # type: ignore[attr-defined]
        # training statistics of the current epoch (not saved with the weights)
        self.register_buffer("_l0_sum", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("_rows", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("_fired", torch.zeros(units, dtype=torch.bool), persistent=False)
        self.register_buffer("_dead", torch.zeros(units, dtype=torch.bool), persistent=False)

    @property
    def schedule(self) -> SparsitySchedule:
        cfg = self.config
        return SparsitySchedule(cfg.k_start, cfg.k_end, cfg.schedule_epochs,  # type: ignore[attr-defined]
                                cfg.schedule_shape)  # type: ignore[attr-defined]

    def _build_latent(self, width: int) -> None:
        cfg = self.config
        units = cfg.sparse_units  # type: ignore[attr-defined]
        self.sparse_in = nn.Linear(width, units)
        self.sparse_act = nn.ReLU()
        self.sparse = TopK(units, cfg.k_start, cfg.sparsity == "topk")  # type: ignore[attr-defined]
        super()._build_latent(units)

    # -- the protocol

    def sparse_code(self, x: Tensor) -> Tensor:
        """The output of the site ``sparse``: ``(B, sparse_units)``, non-negative."""
        return self.sparse(self.sparse_act(self.sparse_in(self.encoder(x))))

    def _posterior(self, s: Tensor) -> Posterior:
        return Posterior(self.hook_mu(self.fc_mu(s)), self.hook_logvar(self.fc_logvar(s)))

    def encode(self, x: Tensor) -> Posterior:
        return self._posterior(self.sparse_code(x))

    # -- the schedule, called by the trainer

    @property
    def k(self) -> int:
        """The current number of active units (Top-k) or the L1 controller's target."""
        return int(self.sparse.k)

    def start_epoch(self) -> dict[str, float]:
        """Advance the schedule to the next epoch; returns ``k``, ``l1_lambda`` and the share of
        units that fired on no training row of the epoch before (``dead_train``)."""
        epoch = int(self.epochs_done) + 1
        target = self.schedule.k(epoch)
        seen = float(self._rows) > 0
        dead = ~self._fired if seen else torch.zeros_like(self._fired)
        if self.config.sparsity == "l1" and seen:  # type: ignore[attr-defined]
            lam = l1_controller_step(float(self.l1_lambda), float(self._l0_sum / self._rows),
                                     target, self.config.l1_max_step)  # type: ignore[attr-defined]
            self.l1_lambda.fill_(lam)
        self.sparse.k.fill_(target)
        self._dead.copy_(dead)
        self._fired.zero_()
        self._l0_sum.zero_()
        self._rows.zero_()
        self.epochs_done.fill_(epoch)
        return {"k": float(target), "l1_lambda": float(self.l1_lambda),
                "dead_train": float(dead.float().mean())}

    def losses_comparable(self) -> bool:
        """True once the schedule has reached its final ``k`` (see the module doc)."""
        return self.schedule.done(int(self.epochs_done))

    # -- training

    def loss_terms(self, x: Tensor,
                   generator: torch.Generator | None = None) -> tuple[LossTerms, Tensor]:
        cfg = self.config
        pre = self.sparse_act(self.sparse_in(self.encoder(x)))
        s = self.sparse(pre)
        post = self._posterior(s)
        assert post.logvar is not None
        z = self.reparameterize(post.mean, post.logvar, generator)
        recon = self.recon_loss(self.decode_logits(z), x)
        kl = kl_divergence(post.mean, post.logvar)
        terms: LossTerms = {"recon": recon, "kl": kl}
        loss = recon + kl
        if cfg.sparsity == "l1":  # type: ignore[attr-defined]
            l1 = s.sum(1).mean()
            terms["l1"] = l1
            loss = loss + self.l1_lambda.to(l1.dtype) * l1
        if cfg.auxk and self.training and bool(self._dead.any()):  # type: ignore[attr-defined]
            aux = self._auxk_loss(pre, s, x)
            terms["auxk"] = aux
            loss = loss + cfg.auxk_coef * aux  # type: ignore[attr-defined]
        if self.training:
            with torch.no_grad():
                active = s > 0
                self._l0_sum += active.sum().double()
                self._rows += s.shape[0]
                self._fired |= active.any(0)
        return {"loss": loss, **terms}, z

    def _auxk_loss(self, pre: Tensor, s: Tensor, x: Tensor) -> Tensor:
        """NLL of decoding the detached live code plus each row's top ``auxk_k`` dead units
        (``pre``: the ReLU outputs before Top-k)."""
        dead_pre = pre * self._dead
        k = min(int(self.config.auxk_k), int(self._dead.sum()))  # type: ignore[attr-defined]
        values, index = dead_pre.topk(k, dim=1)
        aux = torch.zeros_like(dead_pre).scatter(1, index, values)
        mu = self.fc_mu(s.detach() + aux)
        return self.recon_loss(self.decoder(mu), x)

    def extra_repr(self) -> str:
        cfg = self.config
        return (f"architecture={self.architecture!r}, latent_dim={self.latent_dim}, "
                f"sparsity={cfg.sparsity!r}, sparse_units={cfg.sparse_units}, "  # type: ignore[attr-defined]
                f"k={self.k}")
