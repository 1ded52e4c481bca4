"""Reproduce the anomaly study: 3 models x {MRI stand-in, BraTS2020, breast cancer} x 3 seeds.

    python examples/reproduce_anomaly.py --profile quick --out runs/anomaly --workers 2

The Bayesian attention VAE, the same without attention and a plain VAE, trained on normal
rows and judged on anomalies, with what carries the score. The MRI stand-in needs the `mri`
extra (`pip install 'circuitvae[mri]'`); BraTS2020 runs are skipped unless its files are placed
(docs/data.md). See docs/anomaly.md.

The script is the command line ``circuitvae study run anomaly ...`` with the same options
(``--architectures``, ``--datasets``, ``--seeds``, ``--set KEY=VALUE``, ``--device``, ...).
"""

import sys

from circuitvae.cli import main

if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    sys.exit(main(["study", "run", "anomaly", *sys.argv[1:]]))
