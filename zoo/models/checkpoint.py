"""Checkpoints: ``save(model, path)`` and ``load(path)``.

A checkpoint is a folder holding

* ``model.safetensors``: the ``state_dict`` (safetensors: no pickle, safe to load);
* ``config.json``: ``{"format", "architecture", "config" (every config field, the feature spec
  as plain data), "versions" (circuitvae, torch, numpy, safetensors, python), "training"
  (the trainer's settings and per-epoch history, when the model was trained)}``.

``config.json`` also records ``weights_sha256``, the sha256 of ``model.safetensors``, and the
safetensors metadata records the architecture. ``load`` checks both, requires every config field
(a missing one is an error, never a silent default) with a value of its declared type, rebuilds
the architecture, checks each tensor's shape and dtype against it, loads the weights strictly and
returns the model in eval mode. A missing, truncated, edited or inconsistent checkpoint raises
:class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import tempfile
import typing
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import torch
from safetensors.torch import load_file, save_file

import circuitvae
from circuitvae.protocol import CircuitVAEError
from circuitvae.study.settings import SettingsError, check_value

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
    dtype = next((v.dtype for v in state.values() if v.is_floating_point()), torch.float32)
    fd, tmp = tempfile.mkstemp(prefix=f".{WEIGHTS}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:  # written to a temporary and moved into place: a reader never sees half a file
        save_file(state, tmp, metadata={"architecture": model.architecture,
                                        "dtype": str(dtype).removeprefix("torch.")})
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, folder / WEIGHTS)
    finally:
        Path(tmp).unlink(missing_ok=True)
    meta["weights_sha256"] = _sha256(folder / WEIGHTS)
    _write_atomic(folder / CONFIG, json.dumps(meta, indent=2, default=_json_default))
    return folder


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomic(file: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    if not isinstance(meta["config"], dict):
        raise CheckpointError(f"{file}: 'config' must be an object of config fields, got "
                              f"{type(meta['config']).__name__}")
    if not isinstance(meta["architecture"], str):
        raise CheckpointError(f"{file}: 'architecture' must be a name, got "
                              f"{meta['architecture']!r}")
    return meta


def _check_config(config_class: type, values: dict[str, Any], file: Path) -> None:
    """Every field present, each value of its declared type."""
    hints = typing.get_type_hints(config_class)
    fields = [f.name for f in dataclasses.fields(config_class)]
    missing = [f for f in fields if f not in values]
    if missing:
        raise CheckpointError(f"{file}: the config lacks the field(s) {', '.join(missing)} of "
                              f"{config_class.__name__}; a checkpoint records every field (no "
                              "silent defaults)")
    for name in fields:
        value = values[name]
        if isinstance(value, list) and name != "features":
            value = tuple(value)
        try:
            check_value(name, value, hints[name])
        except SettingsError as err:
            raise CheckpointError(f"{file}: config {err}") from None


def load(path: str | Path, *, map_location: str | torch.device = "cpu") -> ZooModel:
    """Rebuild the model saved in the folder ``path``; returned in eval mode."""
    meta = read_meta(path)
    config_file = Path(path) / CONFIG
    try:
        cls = architecture_class(meta["architecture"])
        _check_config(cls.config_class, meta["config"], config_file)
        config = cls.config_class.from_dict(meta["config"])
        model = cls(config)
    except CheckpointError:
        raise
    except (CircuitVAEError, TypeError, ValueError) as err:
        raise CheckpointError(f"{config_file}: cannot rebuild the model: {err}") from None
    file = Path(path) / WEIGHTS
    if not file.is_file():
        raise CheckpointError(f"no {WEIGHTS} in {path}")
    expected = meta.get("weights_sha256")
    if expected is None:
        warnings.warn(f"{config_file} records no weights_sha256 (written by an older "
                      "circuitvae): the weights cannot be verified", UserWarning, stacklevel=2)
    elif _sha256(file) != expected:
        raise CheckpointError(f"{file} has sha256 {_sha256(file)}, but {CONFIG} records "
                              f"{expected}: the weights were modified or corrupted")
    try:
        with safetensors.safe_open(str(file), "pt") as f:
            stored = f.metadata() or {}
        stored_arch = stored.get("architecture")
        state = load_file(str(file), device=str(map_location))
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(f"{file} is corrupt or truncated ({err})") from None
    if stored_arch is not None and stored_arch != meta["architecture"]:
        raise CheckpointError(f"{file} holds {stored_arch!r} weights, but {CONFIG} says "
                              f"{meta['architecture']!r}: the architecture was edited")
    dtype = getattr(torch, stored.get("dtype", "float32"), None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point and dtype != torch.float32:
        model = model.to(dtype)  # a model saved in float64 loads in float64
    own = model.state_dict()
    wrong = [f"{k}: {tuple(v.shape)} {v.dtype} (expected {tuple(own[k].shape)} "
             f"{own[k].dtype})" for k, v in state.items()
             if k in own and (v.shape != own[k].shape or v.dtype != own[k].dtype)]
    if wrong:
        raise CheckpointError(f"{file} has tensors of the wrong shape or dtype for the "
                              f"architecture in {CONFIG}: " + "; ".join(wrong[:5]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(
            f"{file} does not match the architecture in {CONFIG}: {err}"
        ) from None
    if "training" in meta:
        model.training_record = meta["training"]
    return model.to(map_location).eval()
