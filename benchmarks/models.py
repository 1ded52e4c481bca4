"""Models and data shared by the benchmarks: zoo architectures on their real input shapes."""

from __future__ import annotations

import torch

from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset


def tabular(trained: bool = True, epochs: int = 3):
    """A zoo VAE (d = 10) on Adult when its files are available, else on the planted set."""
    try:
        data = load_dataset("adult", n_train=3000, n_test=1000, seed=0, download=False)
    except Exception:  # noqa: BLE001 - the benchmark falls back to data that needs no files
        data = load_dataset("planted", seed=0)
    model = build("vae", dataset=data, seed=42)
    if trained:
        model = train(model, data, seed=42, max_epochs=epochs, verbose=False)
    return model.eval(), data


def test_rows(data, n: int) -> torch.Tensor:
    return data.test.x[:n]
