"""What the zoo offers the ``circuitvae`` command line through entry points (pyproject.toml):
``circuitvae.checkpoints`` (read a saved model) and ``circuitvae.datasets`` (load a dataset by
name), so ``circuitvae analyze CHECKPOINT --dataset adult`` works without the engine importing
the zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .data import load_dataset
from .models.checkpoint import load


def load_checkpoint(path: str | Path) -> Any:
    """The model saved in the zoo checkpoint folder ``path`` (see :func:`circuitvae.zoo.load`)."""
    return load(path)


def dataset(name: str, **options: Any) -> Any:
    """A zoo dataset by name (see :func:`circuitvae.zoo.data.load_dataset`)."""
    return load_dataset(name, **options)
