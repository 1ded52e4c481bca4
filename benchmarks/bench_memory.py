"""Benchmark 4: peak memory of the dSprites loader and of a dSprites analysis (target < 4 GB).

Each is measured in a fresh subprocess (peak resident set size), against the peak of a
subprocess that only imports circuitvae and builds the model (the baseline).
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPTS = {
    "baseline (import + conv model)": """
import circuitvae as cv
from circuitvae.zoo import build
build("beta_vae", input_shape=(1, 64, 64), seed=0)
""",
    "load_dataset('dsprites') (5000 train / 1000 test, procedural)": """
from circuitvae.zoo.data import load_dataset
load_dataset("dsprites")
""",
    "analyze a conv beta-VAE on dSprites (N={n})": """
import circuitvae as cv
from circuitvae.zoo import build
from circuitvae.zoo.data import load_dataset
ds = load_dataset("dsprites")
m = build("beta_vae", dataset=ds, seed=0).eval()
row = cv.analyze(m, ds, n={n}, n_score_train=200, n_score_eval=100, dci_n_estimators=20)
""",
}

FOOTER = """
import resource, json
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def peak_mb(code: str) -> float:
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code + FOOTER],
                          capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def run(quick: bool = False) -> list[str]:
    n = 100 if quick else 1000
    lines = []
    base = None
    for label, code in SCRIPTS.items():
        mb = peak_mb(code.replace("{n}", str(n)))
        base = base or mb
        lines.append(f"| peak RSS, {label.replace('{n}', str(n))} | {mb:.0f} MiB | "
                     f"{mb - base:+.0f} MiB over baseline |")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
