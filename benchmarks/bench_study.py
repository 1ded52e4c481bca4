"""Benchmark 6: wall time of the quick tabular study on this machine, with 1 and 2 workers.

Runs ``circuitvae study run tabular --profile quick`` in a temporary folder (``--quick``: one
seed and two datasets only). The full 75-run grid takes tens of minutes; its figures in
benchmarks/README.md were produced by this script without ``--quick``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def study_seconds(workers: int, extra: list[str]) -> float:
    out = Path(tempfile.mkdtemp(prefix="circuitvae-study-"))
    cli = [sys.executable, "-m", "circuitvae.cli", "study", "run", "tabular", "--profile",
           "quick", "--out", str(out / "tabular"), "--workers", str(workers), "--quiet", *extra]
    start = time.perf_counter()
    try:
        subprocess.run(cli, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(quick: bool = False) -> list[str]:
    extra = ["--seeds", "42", "--datasets", "german_credit,adult"] if quick else []
    label = "quick tabular study" + (" (1 seed x 2 datasets)" if quick else " (75 runs)")
    one = study_seconds(1, extra)
    two = study_seconds(2, extra)
    return [f"| {label}, 1 worker | {one / 60:.1f} min | |",
            f"| {label}, --workers 2 | {two / 60:.1f} min | {one / two:.2f}x speed-up |"]


if __name__ == "__main__":
    print("\n".join(run("--quick" in sys.argv)))
