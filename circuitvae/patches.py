"""Patch values: what replaces a site's output, and the arithmetic that applies it.

A patch is a tensor (the new output), a :class:`Patch` (a value with a unit subset) or a function
``output -> new output`` that sees the whole batch. :func:`apply_patch` computes the new output of
a site from its original output; both hook backends use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .protocol import CircuitVAEError

Units = Sequence[int] | Tensor | None
PatchFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Patch:
    """A replacement for a site's output.

    ``value`` has the site's full output shape ``(B, *unit_shape)``, or ``unit_shape`` (the same
    value for every row). ``units`` chooses where it applies:

    * ``None``: the whole output;
    * a sequence (or 1-D integer tensor) of indices along dim 1 (features of a linear layer,
      channels of a convolution);
    * a boolean mask of shape ``(B, *unit_shape)`` or ``unit_shape`` (single units), or
      ``(B, C)`` or ``(C,)`` (whole channels), where a per-row mask lets each batch row carry its
      own intervention.
    """

    value: Tensor
    units: Units = None

    def __post_init__(self) -> None:
        check_units(self.units)


def check_units(units: Any, *, name: str = "units") -> None:
    """Raise unless ``units`` is ``None``, a boolean or integer tensor/array, or a sequence of
    integers (a float such as 0.7 would silently act as unit 0). Types only, no device read."""
    if units is None:
        return
    if isinstance(units, Tensor):
        if units.dtype == torch.bool or not (units.is_floating_point() or units.is_complex()):
            return
        raise CircuitVAEError(
            f"{name} must be integer unit indices or a boolean mask, got a tensor of dtype "
            f"{units.dtype}")
    if isinstance(units, np.ndarray):
        if units.dtype.kind in "biu":
            return
        raise CircuitVAEError(
            f"{name} must be integer unit indices or a boolean mask, got an array of dtype "
            f"{units.dtype}")
    if isinstance(units, str | bytes) or not isinstance(units, Sequence | range):
        raise CircuitVAEError(
            f"{name} must be None, a sequence of integer unit indices or a boolean mask, got "
            f"{units!r} ({type(units).__name__})")
    bad = [u for u in units if isinstance(u, bool) or not isinstance(u, int | np.integer)]
    if bad:
        raise CircuitVAEError(
            f"{name} must be integer unit indices, got {bad[0]!r} ({type(bad[0]).__name__}) "
            f"in {list(units)!r}")


def check_patch_values(patches: Mapping[str, Any]) -> None:
    """Raise when a patch value (a tensor or a :class:`Patch`'s value) holds NaN or Inf: it
    would flow through the model unnoticed. One reduction per patch, at the entry point;
    functions are left to the caller."""
    for site, spec in patches.items():
        if isinstance(spec, Patch):
            value = spec.value
        elif callable(spec) and not isinstance(spec, Tensor):
            continue
        else:
            value = spec
        if isinstance(value, Tensor):
            t = value
        else:
            try:
                t = torch.as_tensor(np.asarray(value))
            except (TypeError, ValueError) as err:
                raise CircuitVAEError(
                    f"patch value for site {site!r} must be a tensor, a Patch or a function, "
                    f"got {type(value).__name__}") from err
        if not (t.is_floating_point() or t.is_complex()):
            continue
        if not bool(torch.isfinite(t).all()):
            kind = "NaN" if bool(torch.isnan(t).any()) else "Inf"
            raise CircuitVAEError(
                f"patch value for site {site!r} contains {kind} "
                f"({int((~torch.isfinite(t)).sum())} of {t.numel()} values); patch values must "
                "be finite")


PatchSpec = Tensor | Patch | PatchFn


# --------------------------------------------------------------------------- patch arithmetic


def apply_patch(output: Tensor, spec: PatchSpec, site: str = "?") -> Tensor:
    """The new output of a site given its original ``output`` and a patch ``spec``."""
    if callable(spec) and not isinstance(spec, Tensor | Patch):
        new = spec(output)
        if not isinstance(new, Tensor) or new.shape != output.shape:
            got = tuple(new.shape) if isinstance(new, Tensor) else type(new).__name__
            raise CircuitVAEError(
                f"patch function for site {site!r} must return a tensor of shape "
                f"{tuple(output.shape)}, got {got}"
            )
        return new
    patch = spec if isinstance(spec, Patch) else Patch(spec)
    value = _broadcast_value(patch.value, output, site)
    if patch.units is None:
        return value.clone()  # copied: in-place ops downstream must not write into it
    if isinstance(patch.units, Tensor) and patch.units.dtype == torch.bool:
        mask = _broadcast_mask(patch.units.to(output.device), output, site)
        return torch.where(mask, value, output)
    index = torch.as_tensor(patch.units, dtype=torch.long, device=output.device).flatten()
    if output.ndim < 2:
        raise CircuitVAEError(f"site {site!r} has no unit dimension to index")
    if index.numel() and (index.min() < -output.shape[1] or index.max() >= output.shape[1]):
        raise CircuitVAEError(
            f"units {index.tolist()} out of range for site {site!r} with "
            f"{output.shape[1]} units along dim 1"
        )
    new = output.clone()
    new[:, index] = value[:, index]
    return new


def _broadcast_value(value: Tensor, output: Tensor, site: str) -> Tensor:
    if not (isinstance(value, Tensor) and value.dtype == output.dtype
            and value.device == output.device):  # a conversion costs a call per patched pass
        value = torch.as_tensor(value).to(device=output.device, dtype=output.dtype)
    if value.shape == output.shape:
        return value
    if value.shape == output.shape[1:] or (
        value.ndim == output.ndim and value.shape[0] == 1 and value.shape[1:] == output.shape[1:]
    ):
        return value.expand(output.shape)
    raise CircuitVAEError(
        f"patch value for site {site!r} has shape {tuple(value.shape)}; expected the site's "
        f"output shape {tuple(output.shape)} or one row {tuple(output.shape[1:])}"
    )


def _broadcast_mask(mask: Tensor, output: Tensor, site: str) -> Tensor:
    if mask.shape == output.shape or mask.shape == output.shape[1:]:
        return mask.expand(output.shape)
    trailing = (1,) * (output.ndim - 2)
    if output.ndim >= 2 and mask.shape == output.shape[:2]:
        return mask.reshape(*mask.shape, *trailing).expand(output.shape)
    if output.ndim >= 2 and mask.shape == output.shape[1:2]:
        return mask.reshape(1, -1, *trailing).expand(output.shape)
    raise CircuitVAEError(
        f"unit mask for site {site!r} has shape {tuple(mask.shape)}; expected one of "
        f"{tuple(output.shape)}, {tuple(output.shape[1:])}, {tuple(output.shape[:2])} or "
        f"{tuple(output.shape[1:2])}"
    )


__all__ = [
    "Patch",
    "PatchFn",
    "PatchSpec",
    "Units",
    "apply_patch",
    "check_patch_values",
    "check_units",
]
