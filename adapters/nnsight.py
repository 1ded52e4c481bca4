"""Adapter for a model already wrapped by nnsight (``nnsight.NNsight(vae)``).

The adapter unwraps the nnsight envoy to the underlying module and analyses it with the nnsight
backend, so the user's nnsight workflow and circuitvae's metrics see the same module tree.
"""

from __future__ import annotations

from typing import Any

from .base import WrappedVAE
from .functions import wrap_functions
from .module import wrap_module


def is_nnsight(model: Any) -> bool:
    """An nnsight envoy (checked by class ancestry, so nnsight is never imported here)."""
    return any(c.__module__.startswith("nnsight") for c in type(model).__mro__)


def wrap_nnsight(model: Any, **options: Any) -> WrappedVAE:
    """Wrap the module behind an nnsight ``NNsight`` object; analyses default to nnsight."""
    module = getattr(model, "_module", None) or getattr(model, "_model", None)
    if module is None:
        raise TypeError(f"cannot find the module inside {type(model).__name__}")
    options.setdefault("backend", "nnsight")
    if callable(getattr(module, "encode", None)):
        return wrap_module(module, **options)
    return wrap_functions(options.pop("encode", None), options.pop("decode", None), module,
                          **options)
