"""Fixtures for the study tests: a study with a fast fake task and deterministic metrics."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from circuitvae.study import RunSpec
from circuitvae.zoo.studies import IMAGE, TABULAR

# per-architecture CES level: beta_vae far below vae, vq_vae ~ 0
CES_LEVEL = {"vae": 0.2, "beta_vae": 0.01, "factor_vae": 0.15, "beta_tc_vae": 0.08,
             "dip_vae_ii": 0.12, "vq_vae": 1e-4}


def fake_metrics(spec: RunSpec) -> dict[str, float]:
    """Deterministic metrics for a run (seeded by its id); CES falls as MSE rises."""
    rng = np.random.default_rng(zlib.crc32(spec.run_id.encode()))
    image = spec.dataset in ("dsprites", "shapes3d")
    ces = CES_LEVEL.get(spec.architecture, 0.1) * (2.0 if image else 1.0) * rng.uniform(0.9, 1.1)
    spec_ = rng.uniform(0.2, 0.8)
    mod = (0.2 if image else 0.1) + rng.uniform(0, 0.02)
    return {
        "ces_calibrated": ces, "ces_fixed": 2 * ces, "specificity": spec_,
        "auc": 0.5 + 0.4 * spec_ + rng.normal(0, 0.02), "mse": 1.0 - 2 * ces + rng.normal(0, .01),
        "modularity": mod + 0.02, "modularity_random": mod, "fgd": rng.uniform(),
        "dci_disentanglement": 0.5 - ces + rng.normal(0, 0.01), "mig": rng.uniform(),
        "sap": rng.uniform(),
    }


def fake_task(spec: RunSpec) -> dict:
    return {"metrics": fake_metrics(spec), "config": {"arch": spec.architecture},
            "provenance": {"dataset": spec.dataset, "fake": True}}


def with_task(study, task, prepare=None):
    """The study with another task (and no data preflight unless given)."""
    return dataclasses.replace(study, task=task, prepare=prepare)


@pytest.fixture
def study():
    """The tabular study with the fake task."""
    return with_task(TABULAR, fake_task)


@pytest.fixture
def image_study():
    return with_task(IMAGE, fake_task)


@pytest.fixture
def tiny_grid(study):
    """2 architectures x 1 dataset x 2 seeds."""
    return study.grid("quick", architectures=("vae", "beta_vae"), datasets=("adult",),
                      seeds=(42, 123))


@pytest.fixture
def task():
    return fake_task


@pytest.fixture
def metrics_of():
    return fake_metrics
