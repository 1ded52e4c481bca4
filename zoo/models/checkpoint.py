"""Checkpoints: ``save(model, path)`` and ``load(path)``.

A checkpoint is a folder holding

* ``model.safetensors``: the ``state_dict`` (safetensors: no pickle, safe to load);
* ``config.json``: ``{"format", "architecture", "config" (every config field, the feature spec
  as plain data), "versions" (circuitvae, torch, numpy, safetensors, python), "training"
  (the trainer's settings and per-epoch history, when the model was trained)}``.

``load`` rebuilds the architecture from the JSON, loads the weights strictly and returns the model
in eval mode. A missing, truncated or inconsistent checkpoint raises :class:`CheckpointError`
naming the file and the problem.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import torch
from safetensors.torch import load_file, save_file

import circuitvae
from circuitvae.protocol import CircuitVAEError

from .base import ZooModel
from .registry import architecture_class

FORMAT = "circuitvae.zoo.checkpoint/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class CheckpointError(CircuitVAEError):
    """A checkpoint folder that cannot be read back."""


def versions() -> dict[str, str]:
    """Versions of the packages a checkpoint depends on."""
    return {
        "circuitvae": circuitvae.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def save(model: ZooModel, path: str | Path) -> Path:
    """Write ``model`` to the folder ``path`` (created if needed); returns the folder."""
    if not isinstance(model, ZooModel):
        raise CircuitVAEError(
            f"save() writes zoo models, got {type(model).__name__}; use torch.save or "
            "safetensors for other modules"
        )
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "architecture": model.architecture,
        "config": model.config.to_dict(),
        "versions": versions(),
    }
    training = getattr(model, "training_record", None)
    if training is not None:
        meta["training"] = training
    save_file(state, str(folder / WEIGHTS), metadata={"architecture": model.architecture})
    (folder / CONFIG).write_text(json.dumps(meta, indent=2, default=_json_default))
    return folder


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple | set):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def read_meta(path: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder, checked for the needed keys."""
    file = Path(path) / CONFIG
    if not file.is_file():
        raise CheckpointError(f"no {CONFIG} in {path}; is it a circuitvae.zoo checkpoint?")
    try:
        meta = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{file} must hold a JSON object, got {type(meta).__name__}")
    missing = [k for k in ("architecture", "config") if k not in meta]
    if missing:
        raise CheckpointError(f"{file} lacks the key(s) {', '.join(missing)}")
    return meta


def load(path: str | Path, *, map_location: str | torch.device = "cpu") -> ZooModel:
    """Rebuild the model saved in the folder ``path``; returned in eval mode."""
    meta = read_meta(path)
    try:
        cls = architecture_class(meta["architecture"])
        config = cls.config_class.from_dict(meta["config"])
        model = cls(config)
    except CheckpointError:
        raise
    except (CircuitVAEError, TypeError) as err:
        raise CheckpointError(f"{Path(path) / CONFIG}: cannot rebuild the model: {err}") from None
    file = Path(path) / WEIGHTS
    if not file.is_file():
        raise CheckpointError(f"no {WEIGHTS} in {path}")
    try:
        state = load_file(str(file), device=str(map_location))
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{file} is corrupt or truncated ({err})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(
            f"{file} does not match the architecture in {CONFIG}: {err}"
        ) from None
    if "training" in meta:
        model.training_record = meta["training"]
    return model.to(map_location).eval()
