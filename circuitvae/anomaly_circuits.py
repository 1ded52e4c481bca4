"""Which sites and which latents carry an anomaly score (methods.md section 9, [ours]).

No anomaly-detection library asks this of its detector; the engine answers it for any VAE.
The score here is the reconstruction score of :mod:`circuitvae.anomaly`,
``S(x, m) = mean over elements of (x - m)^2``, where ``m`` is the deterministic
reconstruction (eval mode, dropout off) unless a function says otherwise.

**Site effects** (:func:`site_score_effects`). Take paired rows: an anomalous row ``x_a`` (a
lesioned slice) and a normal row ``x_n`` (a healthy slice). For each site ``s`` (e.g. each
attention head), the anomalous run is repeated with the output of ``s`` replaced by its value
on the normal row:

    effect_s = mean_i [ S(x_a,i, m(x_a,i | s := a_s(x_n,i))) - S(x_a,i, m(x_a,i)) ]

It is the change in the anomalous row's score when site ``s`` sees normal input. A large
negative effect means the score depends on that site's response to the anomaly. Each effect is
also given as a share of the row's score, ``effect_s / S(x_a, m(x_a))``, averaged over rows.

**Latent CES on the score** (:func:`latent_score_ces`). For latent j, with the calibrated grid
of :func:`circuitvae.ces`, ``delta in sigma_eff_j * r * linspace(-1, 1, k)``:

    CES^S_j = mean over rows and delta of | S(x, D(mu(x) + delta e_j)) - S(x, D(mu(x))) |

With ``mc_passes`` = T > 1 the decoder runs with dropout on, once per pass. CES^S_j is computed
in each pass, and its mean and standard deviation over the passes give the *epistemic error
bar* of the CES.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .anomaly import dropout_modules, mc_dropout
from .hooks import run_unchecked
from .interventions.batching import chunk_rows, chunks
from .protocol import CircuitVAEError, check_input, check_int, check_vae
from .sitemap import check_sites


def recon_score(x: Tensor, recon: Tensor) -> Tensor:
    """``(N,)``: the mean over elements of ``(x - recon)^2``."""
    return (x - recon).double().pow(2).flatten(1).mean(1)


@dataclass(frozen=True)
class SiteEffects:
    """Per site: ``effect`` (mean change of the anomalous rows' score), ``sd`` over rows,
    ``share`` (mean of effect / score); ``base_score`` (mean anomalous score) and
    ``normal_score`` (mean normal score) for scale."""

    sites: tuple[str, ...]
    effect: np.ndarray
    sd: np.ndarray
    share: np.ndarray
    base_score: float
    normal_score: float
    n: int

    def table(self) -> list[tuple[str, float, float, float]]:
        """``(site, effect, sd, share)`` rows, most negative effect first."""
        order = np.argsort(self.effect)
        return [(self.sites[i], float(self.effect[i]), float(self.sd[i]),
                 float(self.share[i])) for i in order]


def site_score_effects(model: Any, anomalous: Any, normal: Any, sites: Sequence[str], *,
                       max_batch_rows: int | None = None) -> SiteEffects:
    """The effect on the anomaly score of giving each site its normal-row value (see the
    module doc). ``anomalous`` and ``normal`` are paired row by row (same shape)."""
    check_vae(model)
    xa = check_input(model, anomalous, name="anomalous")
    xn = check_input(model, normal, name="normal")
    if xa.shape != xn.shape or xa.shape[0] == 0:
        raise CircuitVAEError(f"anomalous and normal rows must pair up: shapes "
                              f"{tuple(xa.shape)} and {tuple(xn.shape)}")
    sites = list(sites)
    if not sites:
        raise CircuitVAEError("sites is empty: name the sites (e.g. the attention heads)")
    check_sites(model, sites)
    size = chunk_rows(max_batch_rows, model, int(np.prod(xa.shape[1:])))
    base, normal_s, effects = [], [], {s: [] for s in sites}
    with torch.inference_mode():
        for part in chunks(xa.shape[0], size):
            a, n = xa[part], xn[part]
            run_a = run_unchecked(model, a)
            run_n = run_unchecked(model, n, capture=sites)
            s_a = recon_score(a, run_a.output)
            base.append(s_a)
            normal_s.append(recon_score(n, run_n.output))
            for site in sites:
                patched = run_unchecked(model, a, patches={site: run_n.cache[site]}).output
                effects[site].append(recon_score(a, patched) - s_a)
    s_a = torch.cat(base)
    eff = {s: torch.cat(v) for s, v in effects.items()}
    denom = s_a.clamp_min(1e-12)
    return SiteEffects(
        tuple(sites),
        np.array([float(eff[s].mean()) for s in sites]),
        np.array([float(eff[s].std()) if len(s_a) > 1 else 0.0 for s in sites]),
        np.array([float((eff[s] / denom).mean()) for s in sites]),
        float(s_a.mean()), float(torch.cat(normal_s).mean()), int(len(s_a)))


@dataclass(frozen=True)
class ScoreCES:
    """``per_latent`` ``(d,)``: CES of each latent on the score (mean over passes); ``sd``
    ``(d,)``: its standard deviation over the Monte-Carlo passes (0 for one pass);
    ``per_pass`` ``(T, d)``; ``sigma_eff`` ``(d,)``."""

    per_latent: np.ndarray
    sd: np.ndarray
    per_pass: np.ndarray
    sigma_eff: np.ndarray
    mc_passes: int


def latent_score_ces(model: Any, x: Any, *, r: float = 3.0, k: int = 11,
                     mc_passes: int = 1, seed: int = 0,
                     max_batch_rows: int | None = None) -> ScoreCES:
    """CES of each latent on the anomaly score, with an epistemic error bar over
    ``mc_passes`` dropout passes (see the module doc)."""
    check_vae(model)
    xt = check_input(model, x)
    check_int("k", k, minimum=2)
    t_passes = int(check_int("mc_passes", mc_passes, minimum=1))
    if not (isinstance(r, int | float) and np.isfinite(r) and r > 0):
        raise CircuitVAEError(f"r must be a positive number, got {r!r}")
    if xt.shape[0] < 2:
        raise CircuitVAEError("latent_score_ces needs 2+ rows (sigma_eff is a std over rows)")
    if t_passes > 1 and not dropout_modules(model):
        raise CircuitVAEError(f"mc_passes={t_passes} needs dropout layers; "
                              f"{type(model).__name__} has none: use mc_passes=1")
    with torch.inference_mode():
        mu = run_unchecked(model, xt, method="encode").output.mean
    if mu.ndim != 2:
        raise CircuitVAEError(f"latent_score_ces needs flat latents (N, d), got "
                              f"{tuple(mu.shape)}")
    sigma = mu.std(0, unbiased=False)
    grid = torch.linspace(-1.0, 1.0, k, dtype=mu.dtype, device=mu.device) * float(r)
    n, d = mu.shape
    size = max(1, chunk_rows(max_batch_rows, model, int(np.prod(xt.shape[1:]))) // k)
    per_pass = np.zeros((t_passes, d))
    cuda = [xt.device] if xt.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.inference_mode():
        torch.manual_seed(seed)
        with mc_dropout(model) if t_passes > 1 else nullcontext():
            for t in range(t_passes):
                for j in range(d):
                    total = 0.0
                    for part in chunks(n, size):
                        m, xs = mu[part], xt[part]
                        base = recon_score(xs, _decode(model, m))
                        z = m.repeat_interleave(k, 0).clone()
                        z[:, j] += (grid * sigma[j]).repeat(m.shape[0])
                        swept = recon_score(xs.repeat_interleave(k, 0), _decode(model, z))
                        total += float((swept - base.repeat_interleave(k)).abs().sum())
                    per_pass[t, j] = total / (n * k)
    return ScoreCES(per_pass.mean(0), per_pass.std(0), per_pass, sigma.cpu().numpy(), t_passes)


def _decode(model: Any, z: Tensor) -> Tensor:
    return run_unchecked(model, z, method="decode").output
