"""One trainer for every zoo architecture: ``circuitvae.zoo.train(model, dataset, ...)``.

Adam (lr 1e-3) [paper], ReduceLROnPlateau [paper; factor 0.5 and patience 10 are our choice],
early stopping with patience 20 [paper], batch 256 [paper], max epochs configurable. A seeded
fraction ``val_fraction`` = 0.1 of the training rows is held out [our choice]; its loss drives
the plateau schedule and early stopping (with ``val_fraction=0`` the training loss does). At the
end the weights of the best epoch are restored and the model is returned in eval mode.

Determinism: every random choice (validation split, batch order, reparameterization noise,
FactorVAE's permutations) uses explicit ``torch.Generator`` objects seeded from ``seed``; the
global RNG is not touched. Same model initialisation + same seed + same torch build and thread
count => bit-identical weights on CPU (another thread count changes the order of torch's parallel
sums, so the last bits, and more for FactorVAE; see docs/zoo.md).
FactorVAE's discriminator is trained in the same loop with its own Adam optimizer.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from circuitvae.protocol import CircuitVAEError, Split, as_tensor, model_device, to_model_placement

from .models.base import ZooModel
from .models.checkpoint import save


@dataclass(frozen=True)
class TrainConfig:
    """Trainer settings; recorded in the checkpoint's ``training`` entry.

    ``lr`` 1e-3, ``batch_size`` 256, ``patience`` 20 [paper]; ``max_epochs`` 100,
    ``val_fraction`` 0.1, ``plateau_factor`` 0.5, ``plateau_patience`` 10, ``min_delta`` 0
    (improvement needed to reset early stopping) [our choice]; ``seed`` 42 (the study uses
    42/123/456). ``amp`` [our choice, off by default]: the forward passes and losses run under
    ``torch.autocast`` in bfloat16 (on CUDA, or on CPU where supported; no gradient scaler is
    needed for bfloat16); the weights and optimizer state stay float32.
    """

    seed: int = 42
    max_epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 256
    patience: int = 20
    val_fraction: float = 0.1
    plateau_factor: float = 0.5
    plateau_patience: int = 10
    min_delta: float = 0.0
    amp: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise CircuitVAEError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        for name in ("max_epochs", "batch_size", "patience"):
            if int(getattr(self, name)) < 1:
                raise CircuitVAEError(f"{name} must be at least 1, got {getattr(self, name)}")


def training_inputs(dataset: Any) -> torch.Tensor:
    """Training rows from a zoo dataset (``.train.x``), a :class:`Split`, a tensor or array."""
    if isinstance(dataset, Split):
        data = dataset.x
    elif hasattr(dataset, "train") and hasattr(dataset.train, "x"):
        data = dataset.train.x
    else:
        data = dataset
    return as_tensor(data, name="training data")


def split_validation(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded ``(train_idx, val_idx)``; the validation part has ``ceil(fraction * n)`` rows.

    The validation rows stay in their random order (the training rows are sorted: every epoch
    shuffles them anyway). Validation batches must be random samples of the data: the losses of
    beta-TC-VAE (minibatch TC), DIP-VAE-II (batch covariance of mu) and FactorVAE
    (discriminator on a within-batch permutation) are batch statistics, and on a dataset stored
    in a meaningful order (Bank Marketing is ordered by date) consecutive rows form batches
    unlike the training batches. Until version 0.1.1 the validation rows were sorted, which made
    DIP-VAE-II's validation loss on Bank Marketing rise from the first epoch, so early
    stopping restored the epoch-1 weights.
    """
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = math.ceil(fraction * n) if fraction > 0 else 0
    if n_val >= n:
        raise CircuitVAEError(f"val_fraction {fraction} leaves no training rows out of {n}")
    return perm[n_val:].sort().values, perm[:n_val]


def train(
    model: ZooModel,
    dataset: Any,
    *,
    config: TrainConfig | None = None,
    verbose: bool = True,
    checkpoint: str | Path | None = None,
    callbacks: Sequence[Callable[[ZooModel, int], Mapping[str, float] | None]] = (),
    **overrides: Any,
) -> ZooModel:
    """Train ``model`` on ``dataset``; returns it in eval mode with ``model.history`` set.

    ``overrides`` are :class:`TrainConfig` fields (``seed``, ``max_epochs``, ``lr``, ...).
    ``model.history`` is a list of per-epoch dicts: ``epoch``, ``train_<term>`` for every loss
    term, ``val_<term>`` (when validating), ``lr`` and ``seconds``. With ``checkpoint`` the trained
    model is saved there (see :func:`circuitvae.zoo.save`). ``callbacks``: functions
    ``(model, epoch) -> dict | None`` called after every epoch (e.g.
    :class:`circuitvae.metrics.sparsity.SparsityTracker`); the values they return join that
    epoch's history row. They observe the model and must not change it.

    A model with a schedule (the VAE-SAE) advances it in ``model.start_epoch()`` before each
    epoch (what it returns, e.g. ``k``, joins the history row); while
    ``model.losses_comparable()`` is False (the schedule is still changing the objective) the
    epoch's loss drives neither the plateau schedule nor early stopping and cannot be the best
    epoch. If training ends before any comparable epoch the last weights are kept.
    """
    if not isinstance(model, ZooModel):
        raise CircuitVAEError(f"train() trains zoo models, got {type(model).__name__}")
    valid = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise CircuitVAEError(
            f"unknown training option(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    cfg = replace(config or TrainConfig(), **overrides)
    if callable(callbacks):
        callbacks = [callbacks]  # type: ignore[list-item]
    for callback in callbacks:
        if not callable(callback):
            raise CircuitVAEError(f"callbacks must be callables (model, epoch) -> dict, got "
                                  f"{type(callback).__name__}")
    device = model_device(model)
    x = training_inputs(dataset)
    if tuple(x.shape[1:]) != tuple(model.input_shape):
        raise CircuitVAEError(
            f"training data has rows of shape {tuple(x.shape[1:])}, but the model expects "
            f"{tuple(model.input_shape)}"
        )
    x = to_model_placement(model, x)  # the model's device and floating dtype
    train_idx, val_idx = split_validation(x.shape[0], cfg.val_fraction, cfg.seed)
    x_train, x_val = x[train_idx.to(device)], x[val_idx.to(device)]

    gen = torch.Generator().manual_seed(cfg.seed + 1)  # batch order, noise, permutations
    optimizer = torch.optim.Adam(model.vae_parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience
    )
    disc_opt = None
    if hasattr(model, "discriminator_loss"):
        mc = model.config
        disc_opt = torch.optim.Adam(model.discriminator.parameters(),  # type: ignore[attr-defined]
                                    lr=mc.disc_lr, betas=tuple(mc.disc_betas))  # type: ignore[attr-defined]

    history: list[dict[str, float]] = []
    best = math.inf
    best_state: dict[str, Any] | None = None
    best_epoch: int | None = None
    stale = 0
    bar = tqdm(range(1, cfg.max_epochs + 1), disable=not verbose, desc=model.architecture,
               unit="epoch")
    model.train()
    for epoch in bar:
        start = time.perf_counter()
        scheduled = model.start_epoch()
        sums = _run_epoch(model, x_train, cfg.batch_size, gen, optimizer, disc_opt, cfg.amp)
        row: dict[str, float] = {"epoch": epoch, **{f"train_{k}": v for k, v in sums.items()}}
        if x_val.shape[0] > 0:
            val = evaluate(model, x_val, batch_size=cfg.batch_size, seed=cfg.seed + 2)
            row.update({f"val_{k}": v for k, v in val.items()})
            monitored = val["loss"]
        else:
            monitored = sums["loss"]
        if not math.isfinite(monitored):
            raise CircuitVAEError(
                f"training diverged at epoch {epoch} (loss {monitored}); lower lr or check data"
            )
        comparable = model.losses_comparable()
        if comparable:
            scheduler.step(monitored)
        row.update(scheduled)
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - start
        for callback in callbacks:
            row.update(_callback_values(callback, model, epoch, row))
        history.append(row)
        bar.set_postfix(loss=f"{monitored:.4g}")
        if not comparable:
            continue
        if monitored < best - cfg.min_delta:
            best, stale, best_epoch = monitored, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bar.close()
    if best_state is not None:  # no comparable epoch: the last weights are kept
        model.load_state_dict(best_state)
    model.eval()
    model.history = history
    model.training_record = {"config": asdict(cfg), "history": history,
                             "best_monitored_loss": best, "epochs_run": len(history),
                             "best_epoch": best_epoch if best_epoch is not None
                             else len(history), "restored_best": best_epoch is not None}
    if checkpoint is not None:
        save(model, checkpoint)
    return model


def _callback_values(callback: Callable[..., Any], model: ZooModel, epoch: int,
                     row: Mapping[str, float]) -> dict[str, float]:
    """A callback's values for the history row, checked: a mapping of new names to numbers."""
    extra = callback(model, epoch)
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise CircuitVAEError(f"callback {callback!r} returned {type(extra).__name__}; it must "
                              "return a dict of name -> number (or None)")
    clash = sorted(set(extra) & set(row))
    if clash:
        raise CircuitVAEError(f"callback {callback!r} returned {clash}, which the trainer's "
                              "history already has")
    out = {}
    for key, value in extra.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError) as err:
            raise CircuitVAEError(f"callback {callback!r} returned {key!r}: {value!r}, not a "
                                  "number") from err
    return out


def _run_epoch(model: ZooModel, x: torch.Tensor, batch_size: int, gen: torch.Generator,
               optimizer: torch.optim.Optimizer, disc_opt: torch.optim.Optimizer | None,
               amp: bool = False) -> dict[str, float]:
    """One pass over ``x`` in shuffled batches; mean of each loss term over batches (by rows).

    A final batch of a single row is skipped (the batch statistics of TC, DIP and FactorVAE need
    two rows at least). The per-term sums stay on the model's device until the epoch ends (one
    read back per epoch, not one per batch).
    """
    n = x.shape[0]
    order = torch.randperm(n, generator=gen).to(x.device)
    sums: dict[str, torch.Tensor] = {}
    rows = 0
    autocast = torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        if idx.numel() < 2 and n >= 2:
            continue
        batch = x[idx]
        with autocast:
            terms, z = model.loss_terms(batch, gen)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        if disc_opt is not None:
            with autocast:
                d_loss = model.discriminator_loss(z.detach(), gen)  # type: ignore[attr-defined]
            disc_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_opt.step()
            terms = {**terms, "disc": d_loss}
        b = batch.shape[0]
        rows += b
        for k, v in terms.items():
            term = v.detach().double() * b
            sums[k] = sums[k] + term if k in sums else term
    return {k: float(v) / max(rows, 1) for k, v in sums.items()}


@torch.no_grad()
def evaluate(model: ZooModel, x: torch.Tensor, *, batch_size: int = 256,
             seed: int = 0) -> dict[str, float]:
    """Mean loss terms of ``model`` on ``x`` (no gradient; noise from a generator seeded ``seed``,
    so repeated evaluations are comparable). The model's train/eval mode is left unchanged.
    """
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    rows = 0
    for start in range(0, x.shape[0], batch_size):
        batch = x[start:start + batch_size]
        terms, z = model.loss_terms(batch, gen)
        if hasattr(model, "discriminator_loss") and batch.shape[0] >= 2:
            terms = {**terms, "disc": model.discriminator_loss(z, gen)}  # type: ignore[attr-defined]
        b = batch.shape[0]
        rows += b
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * b
    return {k: v / max(rows, 1) for k, v in sums.items()}
