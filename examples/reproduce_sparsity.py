"""Reproduce the sparsification study: {Top-k, L1, Top-k + AuxK} x {dSprites, Shapes3D} x 3 seeds.

    python examples/reproduce_sparsity.py --profile quick --out runs/sparsity --workers 2

A VAE-SAE's 500-unit sparse layer is cut from 500 to 50 active units over 50 epochs, then
trained 100 more epochs at k = 50 (the ``paper`` profile; ``cpu`` trains on 2,000 images per
run; ``quick`` is a smoke run whose report withholds verdicts). dSprites and Shapes3D are
rendered procedurally when their files are absent, so this runs offline. See docs/sparsity.md.

The script is the command line ``circuitvae study run sparsity ...`` with the same options
(``--architectures``, ``--datasets``, ``--seeds``, ``--set KEY=VALUE``, ``--device``, ...).
"""

import sys

from circuitvae.cli import main

if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    sys.exit(main(["study", "run", "sparsity", *sys.argv[1:]]))
