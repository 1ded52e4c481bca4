"""Benchmark 9: the zoo trainer against a bare training loop of the same model on Adult.

Both train a fresh zoo VAE (108 -> 256 -> 128 -> 10 -> 128 -> 256 -> 108) for ``epochs`` epochs
on the same 90% of Adult's training rows, batch 256, Adam at lr 1e-3. The bare loop is what a
user would write: shuffle, encode, reparameterise, decode, the same objective (mixed Gaussian /
categorical NLL + KL) in a few vectorised lines, backward, step; nothing else. The trainer adds
what it is for: the validation pass each epoch (10% held out), the plateau schedule, early
stopping with a copy of the best weights, per-term loss means and the history. A second bare
loop calls ``model.loss_terms`` instead of its own inline objective, to separate the cost of
the zoo's likelihood from the trainer's own. Target (speed issue II): trainer <= 1.5x bare.
"""

from __future__ import annotations

import torch

from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset
from circuitvae.zoo.models.likelihood import block_layout, block_logsumexp
from circuitvae.zoo.training import split_validation

from .common import interleaved


def _inline_loss(model, batch, layout):
    post = model.encode(batch)
    z = post.mean + torch.exp(0.5 * post.logvar) * torch.randn_like(post.mean)
    logits = model.decode_logits(z)
    cat = logits[:, layout.categorical]
    ce = -(batch[:, layout.categorical] * (cat - block_logsumexp(cat, layout))).sum(1)
    num = 0.5 * ((batch[:, layout.numeric] - logits[:, layout.numeric]) ** 2).sum(1)
    kl = -0.5 * (1 + post.logvar - post.mean ** 2 - post.logvar.exp()).sum(1)
    return (ce + num + kl).mean()


def run(quick: bool = False) -> list[str]:
    epochs = 2 if quick else 5
    data = load_dataset("adult", seed=0, download=False)
    train_idx, _ = split_validation(data.train.x.shape[0], 0.1, 0)
    x = data.train.x[train_idx]

    def bare(use_model_loss: bool) -> None:
        torch.manual_seed(0)
        model = build("vae", dataset=data, seed=0).train()
        layout = block_layout(model._blocks, x.shape[1], x.device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            perm = torch.randperm(x.shape[0])
            for start in range(0, x.shape[0], 256):
                batch = x[perm[start:start + 256]]
                loss = (model.loss_terms(batch)[0]["loss"] if use_model_loss
                        else _inline_loss(model, batch, layout))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

    def trainer() -> None:
        train(build("vae", dataset=data, seed=0), data, seed=0, max_epochs=epochs,
              patience=epochs + 1, verbose=False)

    times = interleaved({"bare": lambda: bare(False), "bare_model_loss": lambda: bare(True),
                         "trainer": trainer}, rounds=3 if quick else 7, warmup=1)
    base = times["bare"].best
    return [
        f"## 9. training throughput, Adult VAE, {epochs} epochs",
        "",
        "| what | time | ratio |",
        "|---|---|---|",
        f"| bare loop, inline objective | {times['bare']} | 1.00x |",
        f"| bare loop, `model.loss_terms` | {times['bare_model_loss']} | "
        f"{times['bare_model_loss'].best / base:.2f}x |",
        f"| `circuitvae.zoo.train` | {times['trainer']} | **{times['trainer'].best / base:.2f}x** "
        "(target <= 1.5x) |",
    ]
