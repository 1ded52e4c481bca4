"""Patch values: what replaces a site's output, and the arithmetic that applies it.

A patch is a tensor (the new output), a :class:`Patch` (a value with a unit subset) or a function
``output -> new output`` that sees the whole batch. :func:`apply_patch` computes the new output of
a site from its original output; both hook backends use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


__all__ = ["Patch", "PatchFn", "PatchSpec", "Units", "apply_patch"]
