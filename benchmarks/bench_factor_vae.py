"""Benchmark 12: a FactorVAE training epoch with and without the discriminator's weight
gradients in the VAE step.

The VAE step needs the gradient of ``gamma * TC`` through the discriminator to ``z`` only; the
discriminator's weights are trained by their own loss. ``FactorVAE.regularizer`` therefore runs
the discriminator with its weights frozen, so the backward pass builds no weight gradients for
it. The baseline is the same epoch with that freeze turned off (a plain forward). Both train
from the same initialisation and seed; the weights after the epoch are compared bit for bit.
"""

from __future__ import annotations

import contextlib
import hashlib

import torch

from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset
from circuitvae.zoo.models import factor_vae

from .common import interleaved


def _digest(model: torch.nn.Module) -> str:
    return hashlib.md5(b"".join(v.detach().cpu().numpy().tobytes()
                                for v in model.state_dict().values())).hexdigest()


def run(quick: bool = False) -> list[str]:
    data = load_dataset("german_credit", seed=0, download=False)
    epochs = 1 if quick else 3
    frozen = factor_vae._no_weight_grads
    digests: dict[str, str] = {}

    def epoch(freeze: bool) -> None:
        factor_vae._no_weight_grads = frozen if freeze else (  # type: ignore[assignment]
            lambda module: contextlib.nullcontext())
        try:
            model = train(build("factor_vae", dataset=data, seed=0), data, seed=0,
                          max_epochs=epochs, patience=epochs + 1, verbose=False)
        finally:
            factor_vae._no_weight_grads = frozen  # type: ignore[assignment]
        digests["frozen" if freeze else "plain"] = _digest(model)

    times = interleaved({"plain": lambda: epoch(False), "frozen": lambda: epoch(True)},
                        rounds=2 if quick else 5, warmup=1)
    same = digests["plain"] == digests["frozen"]
    return [
        f"## 12. FactorVAE training, German Credit, {epochs} epoch(s)",
        "",
        "| what | time | ratio |",
        "|---|---|---|",
        f"| discriminator weight gradients built in the VAE step | {times['plain']} | 1.00x |",
        f"| not built (the zoo's FactorVAE) | {times['frozen']} | "
        f"**{times['plain'].best / times['frozen'].best:.2f}x faster** |",
        f"| weights after training identical bit for bit | {same} | |",
    ]
