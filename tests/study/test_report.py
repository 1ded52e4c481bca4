import dataclasses

import numpy as np
import pytest
from matplotlib.image import imread

from circuitvae.study import ResultStore, SkipRun, run_study, write_report
from circuitvae.zoo.studies import IMAGE, TABULAR

FIGURES = ("ces_calibrated_by_architecture.png", "ces_calibrated_vs_mse.png",
           "specificity_vs_auc.png", "metrics_by_architecture.png")


def _nonblank(path):
    img = imread(path)
    return img.ndim == 3 and np.unique(img.reshape(-1, img.shape[-1]), axis=0).shape[0] > 10


def test_complete_report_from_tiny_grid(tmp_path, study):
    # the paper profile: the quick profile withholds verdicts (test_report_rules.py)
    grid = study.grid("paper", architectures=("vae", "beta_vae"), datasets=("adult",),
                      seeds=(42, 123))
    run_study(study, grid, tmp_path, progress=False)
    path = write_report(tmp_path)
    md = path.read_text()
    for f in TABULAR.findings:
        assert f.claim in md and f.rule in md and f.paper in md
    assert not any(f.claim in md for f in IMAGE.findings)
    assert "Image" not in md.split("## Findings")[0]
    for name in FIGURES:
        assert _nonblank(tmp_path / "figures" / name), name
        assert f"figures/{name}" in md
    assert (tmp_path / "pairwise.csv").is_file()
    # the fake CES is 20x lower for beta_vae in both seeds on adult, but 2 paired seeds are
    # fewer than the 6 a paired test needs: underpowered, with the numbers shown
    row = next(line for line in md.splitlines() if "collapses on Adult" in line)
    assert "**underpowered**" in row and "-fold drop" in row and "2/2 seeds" in row
    # no dsprites run: the domain comparison cannot be computed and the report says so
    row = next(line for line in md.splitlines() if "beta-VAE CES is lower on tabular" in line)
    assert "**not computable**" in row
    # CES given reconstruction: one row per reference metric; 4 runs in 1 dataset leave one
    # degree of freedom, too few for a Fisher interval, and the cell says so
    section = md.split("## Beyond a control")[1].split("\n## ")[0]
    for y in ("auc", "specificity", "dci_disentanglement", "fgd"):
        assert f"| ces_calibrated | {y} | mse |" in section
    assert "too few runs for a CI" in section and "nan" not in section
    # the downstream tasks given MSE: declared, and not computable without their columns
    for y in ("impute_rmse", "impute_accuracy", "anomaly_roc_auc"):
        for x in ("specificity", "ces_calibrated"):
            assert f"| {x} | {y} | mse |  | not computable: column missing |" in section


def test_findings_on_a_richer_fake_grid(tmp_path, image_study):
    # 4 architectures x 2 datasets x 3 seeds = 24 runs: enough for a correlation (>= 20) and
    # for the VQ-VAE group comparison (6 vs 18 runs)
    grid = image_study.grid("paper", architectures=("vae", "beta_vae", "factor_vae", "vq_vae"),
                            datasets=("dsprites", "shapes3d"))
    run_study(image_study, grid, tmp_path, progress=False)
    md = write_report(tmp_path).read_text()
    lines = {f.claim: next(line for line in md.splitlines() if f.claim in line)
             for f in IMAGE.findings}
    assert "**reproduced**" in lines["VQ-VAE continuous CES is ~0"]
    assert "**reproduced**" in lines["Within a dataset, CES and DCI correlate negatively"]


def test_report_renders_on_partial_results(tmp_path, study, tiny_grid):
    def partial(spec):
        if spec.seed == 123:
            raise SkipRun("adult files absent")
        if spec.architecture == "beta_vae":
            raise ValueError("NaN loss")
        return {"ces_calibrated": 0.1, "mse": float("nan")}

    run_study(dataclasses.replace(study, task=partial), tiny_grid, tmp_path, progress=False)
    md = write_report(tmp_path).read_text()
    assert "metric `specificity`: no values" in md and "metric `mse`: no values" in md
    assert "not computable" in md
    assert "beta_vae__adult__42 | failed | ValueError: NaN loss" in md
    assert "dataset `adult` skipped in 2 run(s): adult files absent" in md
    for name in FIGURES:
        assert (tmp_path / "figures" / name).is_file()


def test_report_on_empty_store(tmp_path, tiny_grid):
    ResultStore(tmp_path).write_spec(tiny_grid)
    md = write_report(tmp_path).read_text()
    assert "pending 4" in md and "No finished runs." in md


@pytest.mark.parametrize("chosen, other", [(TABULAR, IMAGE), (IMAGE, TABULAR)])
def test_report_study_choice(tmp_path, study, tiny_grid, chosen, other):
    run_study(study, tiny_grid, tmp_path, progress=False)
    if chosen.name == tiny_grid.name:
        md = write_report(tmp_path, study=chosen.name, figures=False).read_text()
    else:
        with pytest.warns(UserWarning, match="judging them by the findings of study"):
            md = write_report(tmp_path, study=chosen.name, figures=False).read_text()
    assert all(f.claim in md for f in chosen.findings)
    assert not any(f.claim in md for f in other.findings)


def test_means_are_per_dataset_never_pooled(tmp_path, study):
    # MSE is 100x larger on one dataset: a pooled mean (50.5) would describe neither
    def scaled(spec):
        return {"mse": 100.0 if spec.dataset == "adult" else 1.0,
                "ces_calibrated": 0.1 + 0.01 * spec.seed % 3}

    grid = study.grid("paper", architectures=("vae",), datasets=("adult", "german_credit"),
                      seeds=(42, 123))
    run_study(dataclasses.replace(study, task=scaled), grid, tmp_path, progress=False)
    md = write_report(tmp_path, figures=False).read_text()
    means = md.split("## Means per architecture and dataset")[1].split("\n## ")[0]
    adult = means.split("### adult")[1].split("###")[0]
    german = means.split("### german_credit")[1]
    assert "| mse | 100 [100, 100] (n=2) |" in adult
    assert "| mse | 1 [1, 1] (n=2) |" in german
    assert "50.5" not in means
    # a metric with no value on any run is left out, not shown as nan
    assert "nan" not in means and "| specificity |" not in means
