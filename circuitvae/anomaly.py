"""Anomaly scores for any VAE: reconstruction error, epistemic and aleatoric uncertainty.

methods.md section 9 ([seed]: an anomaly score from the reconstruction error combined with
predictive uncertainty; [ours]: the exact definitions below). For a row x with T Monte-Carlo
passes (dropout kept on) giving reconstructions x_hat_t:

* ``m = mean_t x_hat_t``; **epistemic** ``u_e = var_t x_hat_t`` (per element, ddof 0);
* **aleatoric** ``u_a``: the decoder's predicted variance, ``exp(model.decode_logvar(z))`` at
  ``z = mu(x)``, for models that predict one (a heteroscedastic decoder);
* scores, each the mean over the elements of its map:
  ``recon`` = ``(x - m)^2``; ``recon+epistemic`` = ``(x - m)^2 + u_e``;
  ``normalized`` = ``(x - m)^2 / v + log v`` with ``v = u_a + u_e + eps`` (the Gaussian negative
  log-likelihood up to constants).

With ``mc_passes=1`` the pass is deterministic: m = x_hat, u_e = 0; ``mc_passes=None`` (the
default) means T = 20 for a model with dropout and T = 1 for one without. The T passes run
down the batch dimension (the rows repeated T times in one pass, chunked), so each repeated
row draws its own dropout mask. Only dropout modules are switched to
training mode for the passes, and everything is restored afterwards.

:class:`VAEAnomalyDetector` wraps any adapted VAE with the conventions of PyOD's detectors
(``fit``, ``decision_function``, ``decision_scores_``, ``threshold_``, ``labels_``,
``predict``); :func:`detection_metrics` and :func:`pixel_metrics` score the results.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from torch import Tensor, nn

from .hooks import run_unchecked
from .interventions.batching import chunk_rows, chunks
from .protocol import (
    CircuitVAEError,
    check_choice,
    check_input,
    check_int,
    check_vae,
    root_module,
)

Score = Literal["recon", "recon+epistemic", "normalized"]
SCORES: tuple[str, ...] = ("recon", "recon+epistemic", "normalized")
_DROPOUT = (nn.modules.dropout._DropoutNd,)  # every torch dropout, feature-alpha included
_EPS = 1e-6


@dataclass(frozen=True)
class AnomalyScores:
    """Per-row scores and per-element maps (numpy).

    ``score`` ``(N,)``: the chosen score; ``recon``, ``epistemic``, ``aleatoric`` ``(N,)``: the
    means over elements of their maps (``aleatoric`` NaN when the model predicts no variance);
    ``maps``: name -> ``(N, *input_shape)`` for ``recon`` (``(x - m)^2``), ``epistemic``,
    ``aleatoric`` (when available) and ``score``.
    """

    score: np.ndarray
    recon: np.ndarray
    epistemic: np.ndarray
    aleatoric: np.ndarray
    maps: dict[str, np.ndarray]
    kind: str
    mc_passes: int


def dropout_modules(model: Any) -> list[nn.Module]:
    """The dropout modules of ``model`` (the layers Monte-Carlo dropout keeps on)."""
    return [m for m in root_module(model).modules() if isinstance(m, _DROPOUT)]


@contextmanager
def mc_dropout(model: Any) -> Iterator[list[nn.Module]]:
    """Dropout modules in training mode (everything else as it is), restored on exit."""
    layers = dropout_modules(model)
    modes = [m.training for m in layers]
    try:
        for m in layers:
            m.train()
        yield layers
    finally:
        for m, mode in zip(layers, modes, strict=True):
            m.train(mode)


def anomaly_scores(
    model: Any,
    x: Any,
    *,
    score: Score = "recon",
    mc_passes: int | None = None,
    seed: int = 0,
    max_batch_rows: int | None = None,
) -> AnomalyScores:
    """Anomaly scores of every row of ``x`` (see the module docstring for the definitions).

    ``mc_passes`` T >= 1: Monte-Carlo passes with dropout on (1: one deterministic pass;
    ``None``: 20 with dropout layers, else 1). T > 1 on a model without dropout layers is an
    error (its epistemic uncertainty would be 0
    by construction, not by measurement). ``score="normalized"`` needs a variance: the model's
    ``decode_logvar`` or T > 1. ``seed`` seeds torch's generator for the dropout masks (the
    global one, which dropout uses; its state, CPU and the model's CUDA device, is restored
    afterwards). The masks are drawn by batch position, so with T > 1 a row's score depends
    on the rows it is scored with (``max_batch_rows``), as Monte-Carlo noise.
    """
    check_vae(model)
    check_choice("score", score, SCORES)
    if mc_passes is None:
        mc_passes = 20 if dropout_modules(model) else 1
    t_passes = int(check_int("mc_passes", mc_passes, minimum=1))
    check_int("seed", seed, minimum=0)
    xt = check_input(model, x)
    if xt.shape[0] == 0:
        raise CircuitVAEError("x is empty; give at least one row to score")
    if t_passes > 1 and not dropout_modules(model):
        raise CircuitVAEError(
            f"mc_passes={t_passes} needs stochastic layers, but {type(model).__name__} has no "
            "dropout module: its epistemic uncertainty would be 0 by construction. Use "
            "mc_passes=1 (reconstruction error only) or a model with dropout")
    has_aleatoric = callable(getattr(model, "decode_logvar", None))
    if score == "normalized" and not has_aleatoric and t_passes == 1:
        raise CircuitVAEError(
            "score='normalized' divides by the predicted variance: the model has no "
            "decode_logvar (aleatoric) and mc_passes=1 gives no epistemic variance")
    size = max(1, chunk_rows(max_batch_rows, model, int(np.prod(xt.shape[1:]))) // t_passes)
    means, variances, aleatoric = [], [], []
    cuda = [xt.device] if xt.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the global generators are restored on exit
        torch.manual_seed(seed)
        with mc_dropout(model) if t_passes > 1 else nullcontext():
            for s in chunks(xt.shape[0], size):
                m, v = _mc_moments(model, xt[s], t_passes)
                means.append(m)
                variances.append(v)
        if has_aleatoric:
            for s in chunks(xt.shape[0], size):
                with torch.inference_mode():
                    z = run_unchecked(model, xt[s], method="encode").output.mean
                    aleatoric.append(torch.exp(model.decode_logvar(z)))
    mean, epi = torch.cat(means), torch.cat(variances)
    sq = (xt - mean).double().pow(2)
    epi = epi.double()
    maps = {"recon": sq, "epistemic": epi}
    if has_aleatoric:
        ale = torch.cat(aleatoric).double()
        if ale.shape != sq.shape:
            raise CircuitVAEError(f"decode_logvar returned shape {tuple(ale.shape[1:])} per "
                                  f"row; expected the input's {tuple(sq.shape[1:])}")
        maps["aleatoric"] = ale
    if score == "recon":
        smap = sq
    elif score == "recon+epistemic":
        smap = sq + epi
    else:
        var = maps.get("aleatoric", torch.zeros_like(sq)) + epi + _EPS
        smap = sq / var + torch.log(var)
    maps["score"] = smap

    def per_row(t: Tensor) -> np.ndarray:
        return t.flatten(1).mean(1).cpu().numpy()

    return AnomalyScores(
        score=per_row(smap), recon=per_row(sq), epistemic=per_row(epi),
        aleatoric=per_row(maps["aleatoric"]) if has_aleatoric else np.full(len(sq), np.nan),
        maps={k: v.cpu().numpy() for k, v in maps.items()}, kind=score, mc_passes=t_passes)


def _mc_moments(model: Any, x: Tensor, t_passes: int) -> tuple[Tensor, Tensor]:
    """Mean and variance (ddof 0) over T passes of the reconstruction, the T passes stacked
    along the batch dimension of one pass."""
    n = x.shape[0]
    rep = x.repeat(t_passes, *(1,) * (x.ndim - 1))
    with torch.inference_mode():
        out = run_unchecked(model, rep, method="reconstruct").output
    out = out.reshape(t_passes, n, *out.shape[1:])
    return out.mean(0), out.var(0, unbiased=False)


class VAEAnomalyDetector:
    """A PyOD-style anomaly detector around any adapted VAE [our choice of conventions].

    ``fit(x_train)`` scores the (assumed mostly normal) training rows: ``decision_scores_``,
    ``threshold_`` = their ``1 - contamination`` quantile, ``labels_`` (1 = anomaly).
    ``decision_function(x)`` scores new rows (higher = more anomalous), ``predict(x)`` gives
    0/1 labels against ``threshold_``. The VAE is not trained here: train it first (on normal
    data), then fit the detector's threshold.
    """

    def __init__(self, model: Any, *, score: Score = "recon", mc_passes: int | None = None,
                 contamination: float = 0.1, seed: int = 0,
                 max_batch_rows: int | None = None) -> None:
        check_vae(model)
        check_choice("score", score, SCORES)
        check_int("mc_passes", mc_passes, minimum=1, allow_none=True)
        if not isinstance(contamination, float | int) or not 0 < contamination < 0.5:
            raise CircuitVAEError(f"contamination must be in (0, 0.5), got {contamination!r}")
        self.model, self.score, self.mc_passes = model, score, mc_passes
        self.contamination, self.seed = float(contamination), seed
        self.max_batch_rows = max_batch_rows

    def _scores(self, x: Any) -> AnomalyScores:
        return anomaly_scores(self.model, x, score=self.score, mc_passes=self.mc_passes,
                              seed=self.seed, max_batch_rows=self.max_batch_rows)

    def fit(self, x: Any, y: Any = None) -> VAEAnomalyDetector:
        """Score the training rows and set the threshold (``y`` is ignored, as in PyOD)."""
        self.decision_scores_ = self._scores(x).score
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        """Anomaly scores of ``x`` (higher = more anomalous)."""
        return self._scores(x).score

    def predict(self, x: Any) -> np.ndarray:
        """0 (normal) / 1 (anomaly) against ``threshold_``."""
        if not hasattr(self, "threshold_"):
            raise CircuitVAEError("call fit(x_train) before predict(x)")
        return (self.decision_function(x) > self.threshold_).astype(int)


@dataclass(frozen=True)
class DetectionMetrics:
    """Image- (or row-) level ``roc_auc`` and ``pr_auc`` (average precision)."""

    roc_auc: float
    pr_auc: float
    n: int
    n_anomalous: int


def detection_metrics(scores: Any, labels: Any) -> DetectionMetrics:
    """ROC AUC and PR AUC (average precision) of ``scores`` for 0/1 ``labels`` (1 = anomaly)."""
    s, y = _scores_and_labels(scores, labels, "labels")
    return DetectionMetrics(float(roc_auc_score(y, s)), float(average_precision_score(y, s)),
                            len(y), int(y.sum()))


@dataclass(frozen=True)
class PixelMetrics:
    """Pixel-level ``auroc`` and ``auprc`` over all pixels, and ``best_dice``: the largest Dice
    of ``map >= t`` against the masks over thresholds t (the "best achievable Dice" of Baur
    et al. 2021), with that ``threshold``."""

    auroc: float
    auprc: float
    best_dice: float
    threshold: float


def pixel_metrics(maps: Any, masks: Any) -> PixelMetrics:
    """Pixel-level AUROC, AUPRC and best Dice of anomaly ``maps`` against 0/1 ``masks``.

    ``maps`` and ``masks`` have the same shape ``(N, ...)``. Best Dice is exact: the largest
    F1 (= Dice) of ``map >= t`` over every threshold t, read from the precision-recall curve.
    """
    m = np.asarray(maps, dtype=np.float64)
    g = np.asarray(masks)
    if m.shape != g.shape:
        raise CircuitVAEError(f"maps {m.shape} and masks {g.shape} must have the same shape")
    s, y = _scores_and_labels(m.reshape(-1), g.reshape(-1), "masks")
    precision, recall, cut = precision_recall_curve(y, s)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-300)
    best = int(np.argmax(f1[:-1]))  # the last point (recall 0) has no threshold
    return PixelMetrics(float(roc_auc_score(y, s)), float(average_precision_score(y, s)),
                        float(f1[best]), float(cut[best]))


def _scores_and_labels(scores: Any, labels: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise CircuitVAEError(f"scores ({s.size}) and {name} ({y.size}) must have one value "
                              "each per item")
    if not np.isfinite(s).all():
        raise CircuitVAEError("scores contain NaN or Inf")
    if not np.isin(y, (0, 1)).all():
        raise CircuitVAEError(f"{name} must be 0 (normal) or 1 (anomaly)")
    if y.min() == y.max():
        raise CircuitVAEError(f"{name} hold one class only: AUC needs normal and anomalous items")
    return s, y.astype(int)


__all__ = [
    "SCORES",
    "AnomalyScores",
    "DetectionMetrics",
    "PixelMetrics",
    "VAEAnomalyDetector",
    "anomaly_scores",
    "detection_metrics",
    "dropout_modules",
    "mc_dropout",
    "pixel_metrics",
]
