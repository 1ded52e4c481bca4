"""Wrap your own VAE: a VAE written from scratch in plain torch, analysed with circuitvae.

The model below knows nothing about circuitvae. We train it for a few seconds on synthetic
tabular data with two planted factors, then wrap it with ``cv.wrap`` and look inside: its sites,
a capture, an activation patch, CES calibrated vs fixed-range, and intervention specificity.

    python examples/wrap_your_own_vae.py            # prints the analysis
    python examples/wrap_your_own_vae.py --plots figs/  # also writes figures (matplotlib)

Runs in a few seconds on a CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

# --------------------------------------------------------------------------- your model


class MyVAE(nn.Module):
    """A textbook Gaussian VAE. encode -> (mu, logvar), decode -> reconstruction."""

    def __init__(self, n_in: int = 8, latent_dim: int = 4, hidden: int = 32) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, n_in))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode(z), mu, logvar


def make_data(n: int, seed: int = 0) -> torch.Tensor:
    """8 columns: 0-2 driven by factor a, 3-5 by factor b, 6-7 noise."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, 1, generator=g), torch.randn(n, 1, generator=g)
    mix = torch.tensor([[1.0, -0.7, 0.5]])
    noise = 0.1 * torch.randn(n, 8, generator=g)
    return torch.cat([a * mix, torch.tanh(b) * mix * 1.5, torch.zeros(n, 2)], dim=1) + noise


def train(model: MyVAE, x: torch.Tensor, steps: int = 400, beta: float = 1.0) -> MyVAE:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (256,))]
        recon, mu, logvar = model(batch)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1).mean()
        loss = (recon - batch).pow(2).sum(dim=1).mean() + beta * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


# --------------------------------------------------------------------------- the analysis


def analyze(vae: MyVAE, x: torch.Tensor, plots: Path | None = None) -> dict[str, float]:
    import circuitvae as cv

    model = cv.wrap(vae, input_shape=(8,))             # adds hook_mu, hook_logvar, hook_z
    print("sites:", cv.sites(model))
    with cv.capture(model, ["encoder.1", "decoder.1"]) as cache:
        cv.reconstruct(model, x[:4])
    print("captured decoder.1:", tuple(cache["decoder.1"].shape))

    base, source = x[:200], x[200:400]                 # activation patching, 200 pairs
    whole = cv.patch(model, base, source, site="decoder.1")
    part = cv.patch(model, base, source, site="decoder.1", units=list(range(8)))
    print(f"patch decoder.1: whole layer {whole.effect:.3f}, 8 units {part.effect:.3f}")
    print("  whole layer reproduces the source:",
          bool(torch.allclose(torch.as_tensor(whole.patched_output),
                              torch.as_tensor(whole.source_output), atol=1e-5)))

    cal = cv.ces(model, x, calibrated=True)            # posterior-calibrated sweep
    fixed = cv.ces(model, x, calibrated=False)         # fixed range r * [-1, 1]
    for j in range(model.latent_dim):
        print(f"  z{j}: sigma_eff {cal.sigma_eff[j]:.3f}  CES calibrated "
              f"{cal.per_latent[j]:.4f}  fixed {fixed.per_latent[j]:.4f}")
    groups = {"a": [0, 1, 2], "b": [3, 4, 5], "noise": [6, 7]}
    spec = cv.specificity(model, x, groups=groups)
    print(f"CES calibrated {cal.value:.4f}, fixed {fixed.value:.4f}; "
          f"specificity {spec.value:.3f}")

    if plots is not None:
        from circuitvae import plot

        plots.mkdir(parents=True, exist_ok=True)
        plot.specificity_heatmap(spec).savefig(plots / "specificity.png", dpi=100)
        plot.ces_per_latent({"calibrated": cal, "fixed": fixed}, log=True).savefig(
            plots / "ces.png", dpi=100)
        plot.traversal_curves(model, x[:200], names=[f"x{i}" for i in range(8)]).savefig(
            plots / "traversals.png", dpi=100)
    return {"ces_calibrated": cal.value, "ces_fixed": fixed.value, "specificity": spec.value,
            "patch_whole": whole.effect, "patch_units": part.effect}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots", type=Path, default=None, help="folder for PNG figures")
    args = parser.parse_args(argv)
    x_train, x_test = make_data(4000, seed=0), make_data(1000, seed=1)
    torch.manual_seed(0)                               # the weight initialisation
    vae = train(MyVAE(), x_train)
    return analyze(vae, x_test, plots=args.plots)


if __name__ == "__main__":
    main()
