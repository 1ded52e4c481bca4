"""Reproduce the sparsification study: {Top-k, L1, Top-k + AuxK} x {dSprites, Shapes3D} x 3 seeds.

    python examples/reproduce_sparsity.py --profile quick --out runs/sparsity --workers 2

A VAE-SAE's 500-unit sparse layer is cut from 500 to 50 active units over 50 epochs, then
trained 100 more epochs at k = 50 (the ``paper`` profile; ``cpu`` trains on 2,000 images per
run; ``quick`` is a smoke run whose report withholds verdicts). dSprites and Shapes3D are
rendered procedurally when their files are absent, so this runs offline. See docs/sparsity.md.
"""

import argparse

from circuitvae.study import run_study, write_report
from circuitvae.zoo.studies import SPARSITY as study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default=study.default_profile, choices=list(study.profiles))
    p.add_argument("--out", default="runs/sparsity")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:<n> or mps")
    a = p.parse_args()

    grid = study.grid(a.profile, **({"device": a.device} if a.device != "cpu" else {}))
    print(run_study(study, grid, a.out, workers=a.workers))
    print("report:", write_report(a.out, study=study))


if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    main()
