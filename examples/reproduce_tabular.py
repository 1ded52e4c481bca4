"""Reproduce the tabular paper's study: 5 architectures x 5 datasets x 3 seeds = 75 runs.

    python examples/reproduce_tabular.py --profile quick --out runs/tabular --workers 2

Each run trains a zoo model, analyses every metric and is stored as one JSON row; a killed run
resumes where it stopped. The statistics and the report (report.md, figures/) follow. The same
as ``circuitvae study run tabular ...``; see docs/study.md.
"""

import argparse

from circuitvae.study import run_study, write_report
from circuitvae.zoo.studies import TABULAR as study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default=study.default_profile, choices=list(study.profiles))
    p.add_argument("--out", default="runs/tabular")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    a = p.parse_args()

    summary = run_study(study, study.grid(a.profile), a.out, workers=a.workers,
                        executor=a.executor)
    print(summary)
    print("report:", write_report(a.out, study=study))


if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    main()
