"""Shared fixtures for the plot tests: headless backend, tiny wrapped VAEs, a PNG checker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

import circuitvae as cv

matplotlib.use("Agg")


class TinyVAE(nn.Module):
    """A plain torch VAE: encode -> (mu, logvar); decode -> sigmoid outputs of ``out_shape``."""

    def __init__(self, n_in: int, d: int, out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.out_shape = out_shape
        n_out = int(np.prod(out_shape))
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(n_in, 16), nn.Tanh(),
                                     nn.Linear(16, 2 * d))
        self.decoder = nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, n_out))

    def encode(self, x):
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, z):
        return torch.sigmoid(self.decoder(z)).reshape(-1, *self.out_shape)


@pytest.fixture
def image_vae():
    torch.manual_seed(0)
    return cv.wrap(TinyVAE(64, 3, (1, 8, 8)), input_shape=(1, 8, 8))


@pytest.fixture
def rgb_vae():
    torch.manual_seed(2)
    return cv.wrap(TinyVAE(48, 2, (3, 4, 4)), input_shape=(3, 4, 4))


@pytest.fixture
def tabular_vae():
    torch.manual_seed(1)
    return cv.wrap(TinyVAE(5, 2, (5,)), input_shape=(5,))


@pytest.fixture
def render(tmp_path: Path) -> Callable:
    """Save a figure as PNG at 40 dpi; check its pixel size and that it is not blank."""

    def check(fig, name: str = "fig") -> np.ndarray:
        import matplotlib.image

        dpi = 40
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        pixels = matplotlib.image.imread(path)
        width, height = fig.get_size_inches() * dpi
        assert pixels.shape[:2] == (round(height), round(width))
        assert pixels.std() > 0
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 2
        return pixels

    return check
