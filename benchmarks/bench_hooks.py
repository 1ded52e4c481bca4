"""Benchmark 3: the hook engine's overhead on a plain forward pass at batch 256.

Baseline: ``decode(encode(x).mean)`` under inference_mode, no hooks. Measured: the same pass
inside ``cv.capture`` / ``cv.patching`` (the hook engine itself), and ``cv.run`` (which also
validates the input: shape, dtype, NaN/Inf) with no patch, one capture and one whole-site
patch, on the zoo's tabular MLP shape and on the 64x64 conv shape. "bare again" times the
baseline a second time: the noise floor of the ratios; "bare + copy" adds one copy of the
patch value, which a patch makes so that in-place operations downstream (``ReLU(inplace=True)``)
cannot alter the caller's tensor. "run_unchecked capture / patch" is the internal path of the
engine's chunked loops, whose inputs were checked once at the public entry. Target: under 5%
overhead for the internal path (speed issue II); the public ``run`` keeps its checks.
"""

from __future__ import annotations

import torch
from torch import nn

import circuitvae as cv
from circuitvae.hooks import run_unchecked

from .common import interleaved


class _Shape(nn.Module):
    """A protocol model with the zoo's backbone shapes, so this benchmark needs only the engine."""

    speaks_circuitvae = True
    latent_sites = ("hook_mu", "hook_logvar", "hook_z")

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_shape, latent_dim=10):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.input_shape, self.latent_dim = tuple(input_shape), latent_dim
        self.hook_mu, self.hook_logvar, self.hook_z = nn.Identity(), nn.Identity(), nn.Identity()

    def encode(self, x):
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return cv.Posterior(self.hook_mu(mu), self.hook_logvar(logvar))

    def decode(self, z):
        return self.decoder(self.hook_z(z))


def mlp_model(n_in: int = 108) -> _Shape:
    enc = nn.Sequential(nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 20))
    dec = nn.Sequential(nn.Linear(10, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(),
                        nn.Linear(256, n_in))
    return _Shape(enc, dec, (n_in,)).eval()


def conv_model() -> _Shape:
    enc = nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 20))
    dec = nn.Sequential(
        nn.Linear(10, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1),
        nn.ReLU(), nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())
    return _Shape(enc, dec, (1, 64, 64)).eval()


def run(quick: bool = False) -> list[str]:
    torch.manual_seed(0)
    lines = []
    for label, model, rounds in (("tabular MLP", mlp_model(), 2000 if not quick else 100),
                                 ("64x64 conv", conv_model(), 40 if not quick else 4)):
        x = torch.rand(256, *model.input_shape)
        site = "decoder.2"
        value = cv.run(model, x, capture=[site]).cache[site]

        def bare(model=model, x=x):
            with torch.inference_mode():
                return model.decode(model.encode(x).mean)

        def bare_and_copy(model=model, x=x, v=value):  # what a patch must add: one copy
            with torch.inference_mode():
                v.clone()
                return model.decode(model.encode(x).mean)

        def ctx_capture(model=model, x=x, s=site):
            with torch.inference_mode(), cv.capture(model, [s]):
                return model.decode(model.encode(x).mean)

        def ctx_patch(model=model, x=x, v=value, s=site):
            with torch.inference_mode(), cv.patching(model, {s: v}):
                return model.decode(model.encode(x).mean)

        times = interleaved({
            "bare": bare,
            "bare again": lambda f=bare: f(),  # the noise floor: the same pass, timed twice
            "bare + copy": bare_and_copy,
            "with capture()": ctx_capture,
            "with patching()": ctx_patch,
            "run": lambda model=model, x=x: cv.run(model, x),
            "capture": lambda model=model, x=x, s=site: cv.run(model, x, capture=[s]),
            "patch": lambda model=model, x=x, v=value, s=site: cv.run(model, x, patches={s: v}),
            # the internal path the engine's chunked loops take (checked once at the entry)
            "run_unchecked capture": lambda model=model, x=x, s=site: run_unchecked(
                model, x, capture=[s]),
            "run_unchecked patch": lambda model=model, x=x, v=value, s=site: run_unchecked(
                model, x, patches={s: v}),
        }, rounds=rounds)
        base = times["bare"].median
        lines.append(f"| hook overhead, {label}, batch 256 | bare {base * 1e3:.3f} ms | "
                     + " | ".join(f"{k} {times[k].median / base:.3f}x"
                                  for k in ("bare again", "bare + copy", "with capture()",
                                            "with patching()", "run", "capture", "patch",
                                            "run_unchecked capture", "run_unchecked patch"))
                     + " |")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
