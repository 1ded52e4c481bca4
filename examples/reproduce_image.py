"""Reproduce the image paper's study: 6 architectures x 5 image datasets x 3 seeds = 90 runs.

    python examples/reproduce_image.py --profile quick --out runs/image --workers 2

dSprites is rendered procedurally when its file is absent; 3DShapes, MPI3D, CelebA and SmallNORB
need their official files (see docs/data.md): runs whose files are absent are stored as
"skipped" and listed with the reason in the report. See docs/study.md.
"""

import argparse

from circuitvae.study import run_study, write_report
from circuitvae.zoo.studies import IMAGE as study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default=study.default_profile, choices=list(study.profiles))
    p.add_argument("--out", default="runs/image")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    a = p.parse_args()

    summary = run_study(study, study.grid(a.profile), a.out, workers=a.workers,
                        executor=a.executor)
    print(summary)
    print("report:", write_report(a.out, study=study))


if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    main()
