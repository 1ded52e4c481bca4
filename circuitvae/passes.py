"""One forward pass: the three methods the engine calls on a model, and what a pass returns.

Shared by the torch backend (:mod:`circuitvae.hooks`) and the nnsight backend
(:mod:`circuitvae.backends.nnsight`), neither of which imports the other at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from .protocol import CircuitVAEError, encode

Method = Literal["reconstruct", "encode", "decode"]
#: The methods a pass may run: ``decode(encode(x).mean)``, ``encode(x)``, ``decode(z)``.
METHODS: tuple[str, ...] = ("reconstruct", "encode", "decode")
#: The calls (phases) each method runs, in order.
PHASES: dict[str, tuple[str, ...]] = {
    "reconstruct": ("encode", "decode"), "encode": ("encode",), "decode": ("decode",),
}


@dataclass(frozen=True)
class RunResult:
    """What :func:`circuitvae.run` returns: the method's output and the captured site outputs."""

    output: Any
    cache: dict[str, Tensor]


def check_method(method: str) -> None:
    """Raise :class:`CircuitVAEError` unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise CircuitVAEError(f"unknown method {method!r}; choose reconstruct, encode or decode")


def call(model: Any, x: Tensor, method: Method) -> Any:
    """Run ``method`` of ``model`` on ``x``: the reconstruction ``decode(encode(x).mean)``, the
    :class:`~circuitvae.protocol.Posterior` of ``encode(x)``, or ``decode(x)``."""
    if method == "reconstruct":
        return model.decode(encode(model, x).mean)
    if method == "encode":
        return encode(model, x)
    if method == "decode":
        return model.decode(x)
    check_method(method)
    raise AssertionError("unreachable")  # pragma: no cover
