"""The sparsity schedule of the VAE-SAE: how many units may be active in each epoch.

methods.md section 8: [seed] the active units are reduced from 500 to 50 over 50 epochs;
[ours] the shape of the decrease and the L1 controller.

``k(e)`` for epoch ``e = 1, 2, ...`` (the model's own epoch count, so a second ``train`` call
continues the schedule), with ``t = min(e - 1, T - 1) / (T - 1)`` over ``T`` schedule epochs:

* ``linear``: ``k = k0 + (k1 - k0) t``;
* ``exponential``: ``k = k0 (k1 / k0)^t`` (a constant fraction removed each epoch);
* ``cosine``: ``k = k1 + (k0 - k1) (1 + cos(pi t)) / 2`` (slow at both ends);

rounded to the nearest integer; after epoch ``T`` it stays at ``k1``. Top-k keeps exactly
``k(e)`` units per row. The L1 variant cannot fix a count: its coefficient lambda is adapted
once per epoch so that the mean number of active units per row tracks the same target, by the
multiplicative controller ``lambda <- lambda * clip(L0 / k(e), 1 / r, r)`` with ``L0`` the mean
active units per training row of the epoch before, ``r`` = ``max_step`` [our choice].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from circuitvae.protocol import CircuitVAEError, check_int

SHAPES = ("linear", "exponential", "cosine")


@dataclass(frozen=True)
class SparsitySchedule:
    """``k`` from ``k_start`` to ``k_end`` over ``epochs`` epochs with the given ``shape``
    [seed: 500 -> 50 over 50 epochs; the shape is our choice, ``linear`` by default]."""

    k_start: int = 500
    k_end: int = 50
    epochs: int = 50
    shape: str = "linear"

    def __post_init__(self) -> None:
        for name in ("k_start", "k_end", "epochs"):  # a numpy int is stored as an int
            object.__setattr__(self, name, check_int(f"schedule {name}", getattr(self, name),
                                                     minimum=1))
        if self.k_end > self.k_start:
            raise CircuitVAEError(f"schedule k_end ({self.k_end}) must not exceed k_start "
                                  f"({self.k_start}): the schedule only removes units")
        if self.shape not in SHAPES:
            raise CircuitVAEError(f"schedule shape must be one of {', '.join(SHAPES)}, got "
                                  f"{self.shape!r}")

    def k(self, epoch: int) -> int:
        """The number of active units allowed in ``epoch`` (1-based)."""
        epoch = check_int("epoch", epoch, minimum=1)
        if self.epochs == 1:
            return self.k_end
        t = min(epoch - 1, self.epochs - 1) / (self.epochs - 1)
        k0, k1 = float(self.k_start), float(self.k_end)
        if self.shape == "linear":
            value = k0 + (k1 - k0) * t
        elif self.shape == "exponential":
            value = k0 * (k1 / k0) ** t
        else:
            value = k1 + (k0 - k1) * (1.0 + math.cos(math.pi * t)) / 2.0
        return int(round(value))

    def done(self, epoch: int) -> bool:
        """Whether ``epoch`` is at or past the end of the schedule (``k`` is final)."""
        return check_int("epoch", epoch, minimum=1) >= self.epochs

    def first_epoch_at_most(self, k: int) -> int:
        """The first epoch whose ``k(e) <= k`` (e.g. where the density at k = 200 is read)."""
        if check_int("k", k) < self.k_end:
            raise CircuitVAEError(f"k = {k} is below the schedule's final k_end = {self.k_end}")
        return next(e for e in range(1, self.epochs + 1) if self.k(e) <= k)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def l1_controller_step(lam: float, mean_l0: float, target: int, max_step: float) -> float:
    """One step of the L1 controller: ``lam * clip(mean_l0 / target, 1/max_step, max_step)``.

    More active units than the target raise lambda (stronger penalty), fewer lower it.
    """
    if not (math.isfinite(lam) and lam > 0):
        raise CircuitVAEError(f"the L1 coefficient must be a positive number, got {lam}")
    if target < 1 or not (math.isfinite(max_step) and max_step > 1):
        raise CircuitVAEError(f"target must be >= 1 and max_step a finite number > 1, got "
                              f"target={target!r}, max_step={max_step!r}")
    if not (math.isfinite(mean_l0) and mean_l0 >= 0):
        raise CircuitVAEError(f"mean_l0 (the mean active units per row) must be a finite "
                              f"number >= 0, got {mean_l0!r}")
    ratio = mean_l0 / target if mean_l0 > 0 else 1.0 / max_step
    return lam * min(max(ratio, 1.0 / max_step), max_step)
