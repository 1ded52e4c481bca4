"""A study of your own in one module: typed settings, a task, a finding, a report.

    python examples/custom_study.py --out runs/custom

The same module, named by an entry point in a package's pyproject.toml
(``[project.entry-points."circuitvae.studies"] custom = "mypackage.custom_study:STUDY"``), makes
``circuitvae study run custom --out runs/custom`` work. See docs/study.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import circuitvae as cv
from circuitvae.study import FindingRule, ReportSpec, Study, run_study, write_report
from circuitvae.study.findings import fmt, require
from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset


@dataclass(frozen=True)
class CustomSettings:
    """Unknown keys and values of the wrong type are errors before any run."""

    epochs: int = 30
    n_train: int = 2000
    analysis_n: int = 200


def run_one(spec):
    """One run: train ``spec.architecture`` on ``spec.dataset`` with ``spec.seed``."""
    s = spec.settings
    data = load_dataset(spec.dataset, seed=spec.seed, n_train=s.n_train, n_test=s.analysis_n)
    model = build(spec.architecture, dataset=data, seed=spec.seed)
    model = train(model, data, seed=spec.seed, max_epochs=s.epochs, verbose=False)
    ces = cv.ces(model, data, n=s.analysis_n, seed=spec.seed)
    mse = cv.reconstruction(model, data, n=s.analysis_n, seed=spec.seed)
    return {"metrics": {"ces_calibrated": ces.value, "mse": mse.value}}


def beta_lowers_ces(rows, pairs):
    """A finding's check returns what we found and the verdict (True / False / None)."""
    require(rows, "ces_calibrated")
    means = rows.groupby("architecture")["ces_calibrated"].mean()
    return (f"beta-VAE {fmt(means.get('beta_vae'))} vs VAE {fmt(means.get('vae'))}",
            bool(means.get("beta_vae", float("nan")) < means.get("vae", float("nan"))))


STUDY = Study(
    name="custom",
    title="VAE vs beta-VAE on the planted synthetic dataset",
    architectures=("vae", "beta_vae"),
    datasets=("planted",),
    seeds=(1, 2),
    settings_type=CustomSettings,
    profiles={"quick": CustomSettings(epochs=2, n_train=500, analysis_n=100),
              "full": CustomSettings()},
    task=run_one,
    findings=(FindingRule("beta_lowers_ces", "beta-VAE has a lower CES than the VAE", "-",
                          "mean CES beta-VAE < VAE", beta_lowers_ces),),
    report=ReportSpec(metrics=("ces_calibrated", "mse"), headline="ces_calibrated",
                      scatters=(("ces_calibrated", "mse"),)),
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick", choices=list(STUDY.profiles))
    p.add_argument("--out", default="runs/custom")
    a = p.parse_args()
    print(run_study(STUDY, STUDY.grid(a.profile), a.out, progress=False))
    print("report:", write_report(a.out, study=STUDY))


if __name__ == "__main__":
    main()
