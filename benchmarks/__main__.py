"""Run every benchmark and print a markdown table: ``python -m benchmarks [name ...] [--quick]``."""

from __future__ import annotations

import importlib
import sys

from .common import machine

BENCHMARKS = ["hooks", "ces", "analyze", "memory", "study", "attribution", "estimators",
              "training", "soak", "sparsity", "factor_vae"]


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or BENCHMARKS
    print(f"machine: {machine()}\n")
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        for line in module.run(quick=quick):
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
