"""Fixtures for the disentanglement-metric tests.

``IdentityObservationsData`` mirrors disentanglement_lib's ``dummy_data.IdentityObservationsData``:
10 factors, each uniform on 1..10 (the reference draws ``random_integers(10)``, which is
``randint(1, 11)``), and the observations are the factors themselves (as float).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from circuitvae.protocol import Feature, Posterior, Split


class IdentityObservationsData:
    """Ground-truth data whose observations are its factors."""

    factor_sizes = (10,) * 10

    @property
    def num_factors(self) -> int:
        return 10

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        return random_state.randint(1, 11, size=(num, self.num_factors))

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: np.random.RandomState
    ) -> np.ndarray:
        return np.asarray(factors, dtype=np.float64)


@pytest.fixture
def identity_data() -> IdentityObservationsData:
    return IdentityObservationsData()


@pytest.fixture
def identity_sample() -> tuple[np.ndarray, np.ndarray]:
    """(observations, factors) of 450 rows drawn from IdentityObservationsData with seed 0."""
    data = IdentityObservationsData()
    rs = np.random.RandomState(0)
    factors = data.sample_factors(450, rs)
    return data.sample_observations_from_factors(factors, rs), factors


def permuted_codes(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """dlib's 'bad' representation: each row's code is a random permutation of its factors."""
    rs = np.random.RandomState(seed)
    return np.stack([rs.permutation(row) for row in np.asarray(x, dtype=np.float64)])


@pytest.fixture
def permute():
    return permuted_codes


class LinearVAE(nn.Module):
    """A protocol-speaking model whose encoder mean is ``x @ weight`` (fixed, no training)."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.latent_dim = int(weight.shape[1])
        self.input_shape = (int(weight.shape[0]),)
        self.enc = nn.Linear(weight.shape[0], weight.shape[1], bias=False)
        self.dec = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.enc.weight.copy_(weight.T)
        self.hook_mu = nn.Identity()
        self.hook_logvar = nn.Identity()
        self.hook_z = nn.Identity()

    def encode(self, x: torch.Tensor) -> Posterior:
        mu = self.enc(x)
        return Posterior(self.hook_mu(mu), self.hook_logvar(torch.zeros_like(mu)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(self.hook_z(z))


class TabularData:
    """A tiny tabular dataset: numeric ``a``, categorical ``b`` (3 levels, one-hot), numeric
    ``c``, in 5 model-space columns; groups ``{"ab": [a, b], "c": [c]}``."""

    name = "toy_tabular"
    features = [
        Feature("a", "numeric", (0,)),
        Feature("b", "categorical", (1, 2, 3)),
        Feature("c", "numeric", (4,)),
    ]
    groups = {"ab": ["a", "b"], "c": ["c"]}

    def __init__(self, n: int = 300, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        a = rng.normal(size=n)
        b = rng.integers(0, 3, size=n)
        c = rng.normal(size=n)
        x = np.zeros((n, 5), dtype=np.float32)
        x[:, 0] = a
        x[np.arange(n), 1 + b] = 1.0
        x[:, 4] = c
        self.train = Split(torch.as_tensor(x))
        self.test = Split(torch.as_tensor(x))


@pytest.fixture
def tabular_data() -> TabularData:
    return TabularData()


@pytest.fixture
def aligned_model() -> LinearVAE:
    """z0 = a, z1 = code of b (0, 1, 2), z2 = c: each latent reads one feature."""
    w = torch.zeros(5, 3)
    w[0, 0] = 1.0
    w[2, 1] = 1.0
    w[3, 1] = 2.0
    w[4, 2] = 1.0
    return LinearVAE(w)


@pytest.fixture
def identity_model() -> LinearVAE:
    """Encoder mean = the 10 observations themselves."""
    return LinearVAE(torch.eye(10))
