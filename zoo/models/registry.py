"""Architectures by name, and :func:`build`."""

from __future__ import annotations

from typing import Any

import torch

from circuitvae.protocol import CircuitVAEError, Split

from .attention_vae import BayesAttentionVAE
from .base import ZooModel
from .factor_vae import FactorVAE
from .gaussian import DIPVAEII, VAE, BetaTCVAE, BetaVAE
from .vae_sae import VAESAE
from .vq_vae import VQVAE

ARCHITECTURES: dict[str, type[ZooModel]] = {
    cls.architecture: cls for cls in (VAE, BetaVAE, FactorVAE, BetaTCVAE, DIPVAEII, VQVAE,
                                       VAESAE, BayesAttentionVAE)
}


def architecture_class(name: str) -> type[ZooModel]:
    """The class registered under ``name``; an unknown name lists the valid ones."""
    if name not in ARCHITECTURES:
        raise CircuitVAEError(
            f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name]


def build(
    name: str,
    *,
    input_shape: tuple[int, ...] | None = None,
    features: Any = None,
    dataset: Any = None,
    seed: int | None = None,
    **overrides: Any,
) -> ZooModel:
    """Build the architecture ``name`` ("vae", "beta_vae", ... "vq_vae", "vae_sae").

    ``dataset`` (a zoo dataset, a :class:`Split` or a tensor) supplies ``input_shape`` from its
    training inputs and ``features`` from ``dataset.features`` when present. ``seed`` makes the
    weight initialisation reproducible without touching the global RNG (it runs under
    ``torch.random.fork_rng``). ``overrides`` are config fields.
    """
    cls = architecture_class(name)
    if dataset is not None:
        x = _train_inputs(dataset)
        if input_shape is None:
            input_shape = tuple(x.shape[1:])
        if features is None:
            features = getattr(dataset, "features", None)
    if input_shape is None:
        raise CircuitVAEError("build needs input_shape or a dataset")
    if features is not None and len(input_shape) != 1:
        features = None if dataset is not None else features
    kwargs = {"input_shape": tuple(input_shape), "features": features, **overrides}
    if seed is None:
        return cls(**kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(**kwargs)


def _train_inputs(dataset: Any) -> Any:
    if isinstance(dataset, Split):
        return dataset.x
    train = getattr(dataset, "train", None)
    if isinstance(train, Split) or hasattr(train, "x"):
        return train.x
    if hasattr(dataset, "shape"):
        return dataset
    raise CircuitVAEError(
        f"cannot read inputs from {type(dataset).__name__}: expected a dataset with .train.x, "
        "a circuitvae.Split or a tensor"
    )
