"""Ground-truth datasets and representation functions for the sampling-based scores
(BetaVAE and FactorVAE scores).

A ground-truth dataset follows disentanglement_lib's ``GroundTruthData`` interface:

* ``factor_sizes`` (or ``num_factors``, or the reference's ``factors_num_values``): its length
  is the number of factors K;
* ``sample_factors(n, random_state) -> (n, K)`` integer array;
* ``sample_observations_from_factors(factors, random_state) -> (n, ...)`` observations.

Randomness: ``random_state`` is a ``np.random.RandomState`` (the reference's type, so datasets
ported from disentanglement_lib work unchanged) [our choice]; the public functions build it
from their integer ``seed``.

A representation function maps a batch of observations to codes, a numpy ``(B, d)`` array.
:func:`representation_function` builds one from a circuitvae model (the encoder mean).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..interventions.batching import encode_all
from ..protocol import CircuitVAEError, FactorSampler, check_input, check_vae, factor_sizes_of

RepresentationFn = Callable[[Any], Any]


#: disentanglement_lib's ground-truth dataset interface (see the module docstring).
GroundTruthData = FactorSampler


def num_factors(dataset: Any) -> int:
    """K, from ``factor_sizes``, ``num_factors`` or ``factors_num_values``."""
    sizes = factor_sizes_of(dataset)
    if sizes is None:  # disentanglement_lib's own spellings
        sizes = getattr(dataset, "factors_num_values", None)
    if sizes is not None:
        return len(sizes)
    k = getattr(dataset, "num_factors", None)
    if isinstance(k, int):
        return k
    raise CircuitVAEError(
        f"{type(dataset).__name__} has no factor_sizes (or num_factors): a ground-truth dataset "
        "needs factor_sizes, sample_factors(n, random_state) and "
        "sample_observations_from_factors(factors, random_state)"
    )


def check_dataset(dataset: Any) -> int:
    """Return K after checking the dataset offers the sampling interface."""
    if not isinstance(dataset, FactorSampler):
        missing = [m for m in ("sample_factors", "sample_observations_from_factors")
                   if not hasattr(dataset, m)]
        raise CircuitVAEError(
            f"{type(dataset).__name__} lacks {', '.join(missing)}; a ground-truth dataset needs "
            "factor_sizes, sample_factors(n, random_state) and "
            "sample_observations_from_factors(factors, random_state)"
        )
    k = num_factors(dataset)
    if k < 1:
        raise CircuitVAEError("the dataset has no factors")
    return k


def random_state(seed: int | np.random.RandomState) -> np.random.RandomState:
    """A ``RandomState`` from an integer seed (or the state itself)."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        raise CircuitVAEError(
            "pass an integer seed or a np.random.RandomState (the ground-truth interface of "
            "disentanglement_lib uses RandomState), not a Generator"
        )
    return np.random.RandomState(int(seed))


def represent(fn: RepresentationFn, observations: Any, n_rows: int) -> np.ndarray:
    """Call the representation function and check it returned ``(n_rows, d)`` finite codes."""
    out = fn(observations)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    codes = np.asarray(out, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] != n_rows:
        raise CircuitVAEError(
            f"representation_fn returned shape {codes.shape}; expected ({n_rows}, d) codes for "
            f"{n_rows} observations"
        )
    if not np.isfinite(codes).all():
        raise CircuitVAEError("representation_fn returned NaN or Inf codes")
    return codes


def encode_means(model: Any, x: Any, *, batch_size: int = 512) -> np.ndarray:
    """Encoder means ``mu(x)`` as a float64 numpy ``(N, d)`` array.

    Inputs are checked with :func:`circuitvae.protocol.check_input` and cast to the model's
    floating dtype (a ground-truth dataset may hand over float64 or integer observations), then
    encoded by the engine's one encode path,
    :func:`circuitvae.interventions.batching.encode_all`, in chunks of ``batch_size`` rows
    under ``torch.inference_mode``. Like every engine pass it runs the model in the mode it is
    in (zoo models encode the same in train and eval mode: they have no dropout or batch norm).
    """
    t = check_input(model, x, name="observations")
    mean = encode_all(model, t, max_batch_rows=int(batch_size)).mean
    return mean.detach().cpu().double().numpy().reshape(t.shape[0], -1)


def representation_function(model: Any, *, batch_size: int = 512) -> RepresentationFn:
    """A representation function for the scores: observations -> encoder means ``(B, d)``.

    The encoder mean is the reference's representation (postprocessing "mean").
    """
    check_vae(model)

    def fn(observations: Any) -> np.ndarray:
        return encode_means(model, observations, batch_size=batch_size)

    return fn


def sample_codes(dataset: Any, representation_fn: RepresentationFn, n: int,
                 random_state: np.random.RandomState, *,
                 batch_size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``n`` codes and their factors from fresh samples of a ground-truth dataset:
    disentanglement_lib's ``generate_batch_factor_code`` (batches of ``batch_size``: draw factors,
    render observations, represent them), returned row-major, codes ``(n, d)`` and factors
    ``(n, K)``."""
    if int(n) < 1:
        raise CircuitVAEError(f"the number of samples must be >= 1, got {n}")
    codes, factors = [], []
    done = 0
    while done < n:
        m = min(int(batch_size), int(n) - done)
        f = np.asarray(dataset.sample_factors(m, random_state))
        obs = dataset.sample_observations_from_factors(f, random_state)
        codes.append(represent(representation_fn, obs, m))
        factors.append(f)
        done += m
    return np.concatenate(codes), np.concatenate(factors)
