"""The FactorVAE disentanglement score (Kim & Mnih, 2018).

A port of ``disentanglement_lib/evaluation/metrics/factor_vae.py``. It samples from a
ground-truth dataset (see :mod:`circuitvae.metrics._ground_truth`) with a
``np.random.RandomState(seed)``, in the reference's order of draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..protocol import CircuitVAEError
from ._ground_truth import RepresentationFn, check_dataset, random_state, represent


@dataclass(frozen=True)
class FactorVAEResult:
    """``value`` = ``eval_accuracy``. ``votes_train`` is ``(K, d)``: how often fixing factor k
    made code j the least variable; ``active_dims`` the ``(d,)`` mask of unpruned codes."""

    value: float
    train_accuracy: float
    eval_accuracy: float
    n_active_dims: int
    active_dims: np.ndarray = field(repr=False)
    votes_train: np.ndarray = field(repr=False)


def factor_vae_score(
    dataset: Any,
    representation_fn: RepresentationFn,
    *,
    seed: int = 0,
    batch_size: int = 64,
    n_train: int = 10000,
    n_eval: int = 5000,
    n_variance_estimate: int = 10000,
    prune_threshold: float = 0.05,
) -> FactorVAEResult:
    """FactorVAE score: accuracy of a majority-vote classifier from votes to factors.

    1. Global variances ``s_j^2`` (``ddof=1``) of the codes of ``n_variance_estimate`` random
       observations; codes with ``s_j < prune_threshold`` are pruned (the study's 0.05; the
       reference function default is 0.0) [paper].
    2. Each vote: draw factor k uniformly, a batch of ``batch_size`` factor vectors sharing
       ``v_k``; ``j* = argmin_j Var_batch(z_j) / s_j^2`` over active codes; ``votes[k, j*] += 1``.
    3. The classifier maps code j to ``argmax_k votes_train[k, j]``; accuracy =
       ``sum_j votes[class(j), j] / sum votes`` on ``n_train`` training votes and on
       ``n_eval`` fresh votes [paper: Kim & Mnih 2018, disentanglement_lib].

    No active code gives 0 for both accuracies, as in the reference. [our choice, no effect on
    the scores]: ``j*`` is recorded as the index among all d codes, and ``n_active_dims`` counts
    the active codes (the reference reports ``len`` of the mask, i.e. d).
    """
    k_factors = check_dataset(dataset)
    if batch_size < 2 or n_variance_estimate < 2:
        raise CircuitVAEError("batch_size and n_variance_estimate must be at least 2 (ddof=1)")
    if n_train < 1 or n_eval < 1:
        raise CircuitVAEError("n_train and n_eval must be positive")
    rs = random_state(seed)
    factors = dataset.sample_factors(n_variance_estimate, rs)
    obs = dataset.sample_observations_from_factors(factors, rs)
    codes = represent(representation_fn, obs, n_variance_estimate)
    global_var = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    d = codes.shape[1]
    if not active.any():
        zero_votes = np.zeros((k_factors, d), dtype=np.int64)
        return FactorVAEResult(0.0, 0.0, 0.0, 0, active, zero_votes)
    votes_train = _votes(
        dataset, representation_fn, batch_size, n_train, rs, global_var, active, k_factors
    )
    classifier = np.argmax(votes_train, axis=0)
    cols = np.arange(d)
    train_acc = votes_train[classifier, cols].sum() / votes_train.sum()
    votes_eval = _votes(
        dataset, representation_fn, batch_size, n_eval, rs, global_var, active, k_factors
    )
    eval_acc = votes_eval[classifier, cols].sum() / votes_eval.sum()
    return FactorVAEResult(
        value=float(eval_acc),
        train_accuracy=float(train_acc),
        eval_accuracy=float(eval_acc),
        n_active_dims=int(active.sum()),
        active_dims=active,
        votes_train=votes_train,
    )


def _votes(
    dataset: Any,
    representation_fn: RepresentationFn,
    batch_size: int,
    n_points: int,
    rs: np.random.RandomState,
    global_var: np.ndarray,
    active: np.ndarray,
    k_factors: int,
) -> np.ndarray:
    votes = np.zeros((k_factors, global_var.shape[0]), dtype=np.int64)
    active_idx = np.flatnonzero(active)
    for _ in range(n_points):
        k = rs.randint(k_factors)
        factors = np.array(dataset.sample_factors(batch_size, rs))
        factors[:, k] = factors[0, k]
        obs = dataset.sample_observations_from_factors(factors, rs)
        codes = represent(representation_fn, obs, batch_size)
        local_var = np.var(codes, axis=0, ddof=1)
        j = active_idx[np.argmin(local_var[active] / global_var[active])]
        votes[k, j] += 1
    return votes
