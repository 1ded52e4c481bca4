"""The GPU path in a few minutes: ``python -m benchmarks.gpu [--device cuda] [--quick]``.

On a machine with a GPU this measures, and prints as a markdown table:

1. training throughput (images/s) of the conv VAE and beta-VAE on dSprites (procedural, no
   download), float32 and with ``amp=True`` (bfloat16 autocast), after one warm-up epoch;
2. sweep throughput: calibrated CES of the trained conv VAE (N rows x d latents x K offsets
   decodes), in decodes/s;
3. a dSprites analysis: ``cv.analyze(..., preset="fast")`` wall time;
4. host syncs: the number of device-to-host synchronisations torch reports
   (``torch.cuda.set_sync_debug_mode``) during one training epoch and one CES sweep, so a
   per-chunk ``.item()`` or ``.cpu()`` shows up as a count, not a guess.

Without a GPU it says so and, with ``--device cpu``, runs the same steps on the CPU (a smoke run;
the figures in ``benchmarks/README.md`` say which device they are from).
"""

from __future__ import annotations

import argparse
import warnings

import torch

import circuitvae as cv
from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset

from .common import timed


def _timed(fn, device: torch.device) -> tuple[object, float]:
    """:func:`benchmarks.common.timed`, synchronising a CUDA device around ``fn``."""
    return timed(fn, (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None)


def _count_syncs(fn, device: torch.device) -> int | None:
    """Host syncs torch warns about while ``fn`` runs (CUDA only; None elsewhere)."""
    if device.type != "cuda":
        fn()
        return None
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message).lower() for w in caught)


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:<n> or cpu (default cuda)")
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer epochs")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no GPU visible to torch: nothing measured (use --device cpu for a smoke run)")
        return []
    device = torch.device(args.device)
    n_train, epochs, n_analysis = (512, 1, 64) if args.quick else (20000, 3, 1000)
    data = load_dataset("dsprites", n_train=n_train, n_test=max(500, n_analysis), seed=0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"device: {name}, torch {torch.__version__}", "",
             "| what | figure |", "|---|---|"]

    trained = None
    for arch in ("vae", "beta_vae"):
        for amp in (False, True):
            model = build(arch, dataset=data, seed=0).to(device)
            train(model, data, seed=0, max_epochs=1, verbose=False, amp=amp)  # warm-up
            model = build(arch, dataset=data, seed=0).to(device)
            _, seconds = _timed(lambda m=model, a=amp: train(
                m, data, seed=0, max_epochs=epochs, patience=epochs + 1, verbose=False,
                amp=a), device)
            rows = int(0.9 * n_train) * epochs  # the trainer holds out 10% for validation
            lines.append(f"| training {arch}, {'bf16 autocast' if amp else 'float32'}, "
                         f"batch 256 | {rows / seconds:,.0f} images/s (incl. validation) |")
            if arch == "vae" and not amp:
                trained = model
    assert trained is not None
    epoch_syncs = _count_syncs(lambda: train(
        build("vae", dataset=data, seed=0).to(device), data, seed=0, max_epochs=1,
        verbose=False), device)

    x = data.test.x[:n_analysis]
    cv.ces(trained, x[:8], k=3)  # warm-up (site table, kernels)
    res, seconds = _timed(lambda: cv.ces(trained, x, calibrated=True), device)
    decodes = n_analysis * trained.latent_dim * 11
    lines.append(f"| calibrated CES sweep, N = {n_analysis}, d = {trained.latent_dim}, K = 11 | "
                 f"{decodes / seconds:,.0f} decodes/s ({seconds:.2f} s; CES {res.value:.4f}) |")
    sweep_syncs = _count_syncs(lambda: cv.ces(trained, x, calibrated=True), device)

    _, seconds = _timed(lambda: cv.analyze(
        trained, data, n=min(n_analysis, 300), preset="fast",
        n_score_train=1000 if not args.quick else 100,
        n_score_eval=500 if not args.quick else 50), device)
    lines.append(f"| `cv.analyze(preset='fast')`, dSprites conv VAE | {seconds:.1f} s |")
    if device.type == "cuda":
        lines.append(f"| host syncs: one training epoch / one CES sweep | "
                     f"{epoch_syncs} / {sweep_syncs} |")
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
