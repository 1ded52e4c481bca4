"""Training adequacy: which latent dimensions carry information (and which have collapsed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..interventions.batching import encode_all
from ..protocol import CircuitVAEError, DiscretePosterior, check_int, resolve_inputs

#: [ours, methods.md section 7] a dimension is active when its mean KL exceeds this (nats)
ACTIVE_KL_NATS = 0.01


@dataclass(frozen=True)
class LatentActivity:
    """``kl_per_dim`` ``(d,)``: mean over rows of ``KL(q(z_j|x) || N(0, 1))`` in nats;
    ``active_dims``: how many exceed ``threshold``; ``collapsed``: no dimension is active."""

    kl_per_dim: np.ndarray
    active_dims: int
    threshold: float
    n: int

    @property
    def collapsed(self) -> bool:
        return self.active_dims == 0


def latent_activity(model: Any, data: Any, *, n: int | None = None, seed: int = 0,
                    threshold: float = ACTIVE_KL_NATS,
                    max_batch_rows: int | None = None) -> LatentActivity:
    """Active latent dimensions of a Gaussian-posterior model.

    KL_j = mean over x in X of 0.5 * (mu_j(x)^2 + sigma_j(x)^2 - 1 - log sigma_j(x)^2), and
    dimension j is active when KL_j > ``threshold`` (0.01 nats [our choice, methods.md
    section 7]). A model with no active dimension has collapsed to its prior. ``data``: inputs,
    a Split or a dataset (its test split); ``n`` rows drawn with ``seed`` (None: all).

    A deterministic encoder (no log-variance) or a vector-quantized one has no Gaussian KL:
    that is an error naming the encoder's kind.
    """
    if not (isinstance(threshold, int | float) and np.isfinite(threshold) and threshold >= 0):
        raise CircuitVAEError(f"threshold must be a finite number >= 0, got {threshold!r}")
    check_int("n", n, minimum=1, allow_none=True)
    check_int("seed", seed, minimum=0)
    x = resolve_inputs(data, model, n=n, seed=seed)
    post = encode_all(model, x, max_batch_rows=max_batch_rows)
    if isinstance(post, DiscretePosterior) or post.logvar is None:
        kind = "vector-quantized" if isinstance(post, DiscretePosterior) else "deterministic"
        raise CircuitVAEError(
            f"{type(model).__name__} has a {kind} encoder: there is no Gaussian KL per "
            "dimension to measure latent activity with"
        )
    mu = post.mean.detach().double()
    logvar = post.logvar.detach().double()
    kl = (0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)).mean(dim=0).cpu().numpy()
    return LatentActivity(kl_per_dim=kl, active_dims=int((kl > threshold).sum()),
                          threshold=float(threshold), n=int(x.shape[0]))
