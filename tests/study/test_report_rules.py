"""The report's verdict rules: withheld verdicts for a quick profile, the sensitivity table,
training adequacy, and small grids that are underpowered, never "not reproduced"."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import run_study, write_report
from circuitvae.zoo.studies import IMAGE, TABULAR

from .conftest import fake_metrics, with_task

VERDICT_WORDS = ("**reproduced**", "**direction only**", "**not reproduced**",
                 "**underpowered**", "**not computable**")


def _rows_of(md: str, findings) -> dict[str, str]:
    section = md.split("## Findings")[1].split("## Sensitivity")[0]
    return {f.key: next(line for line in section.splitlines() if f.claim in line)
            for f in findings}


def variant_task(spec):
    """The fake metrics with the sigma_eff-scale variants (total scale reversing the sign of
    the CES-MSE relation) and two modularity variants; no posterior-scale columns."""
    m = fake_metrics(spec)
    rng = np.random.default_rng(zlib.crc32(spec.run_id.encode()) + 1)
    m["ces_calibrated_total"] = m["mse"] + rng.normal(0, 0.01)
    m["specificity_total"] = m["specificity"]
    m["modularity_signed"] = m["modularity"] * 0.5
    m["modularity_encoder"] = m["modularity"]
    return {"metrics": m}


def adequacy_task(spec):
    """Fake metrics with training records: every beta-VAE run collapsed (0 active dims)."""
    m = fake_metrics(spec)
    m.update(active_dims=0 if spec.architecture == "beta_vae" else 4, epochs_run=37,
             train_loss=10.0 + spec.seed / 1000, val_loss=11.0)
    return {"metrics": m}


@pytest.fixture
def paper_tabular():
    return with_task(TABULAR, variant_task)


def test_quick_profile_withholds_every_verdict_but_shows_the_numbers(tmp_path, study):
    grid = study.grid("quick", architectures=("vae", "beta_vae", "factor_vae"),
                      datasets=("adult", "german_credit", "dsprites"))
    run_study(study, grid, tmp_path, progress=False)
    md = write_report(tmp_path, figures=False).read_text()
    assert "**Verdicts withheld** for this store's profile `quick`" in md
    assert "4 epochs on 2,000 training rows" in md and "barely trained" in md
    rows = _rows_of(md, TABULAR.findings)
    for key, line in rows.items():
        cells = [c.strip() for c in line.split(" | ")]
        assert cells[3] == "withheld", (key, line)
        assert not any(v in line for v in VERDICT_WORDS), key
    assert "fold drop" in rows["betavae_adult_drop"] and "r=" in rows["ces_mse"]
    sens = md.split("## Sensitivity")[1].split("## Training")[0]
    assert "| withheld |" in sens and "**" not in sens
    assert "verdicts withheld (profile `quick`)" in md


def test_withholding_is_declared_by_the_study_not_by_the_profile_name(tmp_path, study):
    assert set(TABULAR.withhold_verdicts) == {"quick"} == set(IMAGE.withhold_verdicts)
    plain = dataclasses.replace(study, withhold_verdicts={})
    grid = plain.grid("quick", architectures=("vae", "beta_vae"), datasets=("adult",),
                      seeds=(42, 123))
    run_study(plain, grid, tmp_path, progress=False)
    md = write_report(tmp_path, study=plain, figures=False).read_text()
    assert "withheld" not in md and "**underpowered**" in md
    with pytest.raises(CircuitVAEError, match="withhold_verdicts names unknown"):
        dataclasses.replace(study, withhold_verdicts={"nightly": "no such profile"})


def test_sensitivity_table_lists_every_variant_beside_the_default(tmp_path, paper_tabular):
    grid = paper_tabular.grid("paper", architectures=("vae", "beta_vae", "factor_vae",
                                                      "beta_tc_vae"),
                              datasets=("adult", "german_credit", "dsprites"))
    run_study(paper_tabular, grid, tmp_path, progress=False)
    md = write_report(tmp_path, figures=False).read_text()
    sens = md.split("## Sensitivity to our choices")[1].split("## Training")[0]
    lines = [ln for ln in sens.splitlines() if ln.startswith("| ") and "finding |" not in ln]
    claim = next(f.claim for f in TABULAR.findings if f.key == "ces_mse")
    mine = [ln for ln in lines if ln.startswith(f"| {claim} |")]
    assert len(mine) == 3
    assert "`ces_calibrated` (default)" in mine[0] and "**" not in mine[0]
    # the fake CES falls as MSE rises (36 runs): the default reproduces the direction; the
    # "total" variant is MSE itself, so its r is positive: not reproduced
    assert "| not reproduced | within r=" in mine[1] and "`ces_calibrated_total`" in mine[1]
    assert "`ces_calibrated_posterior`" in mine[2] and "| not computable |" in mine[2]
    default = _rows_of(md, TABULAR.findings)["ces_mse"]
    assert mine[0].split(" | ")[3] in default  # the default row is the finding's verdict
    # every declared variant of every finding has a row
    for f in TABULAR.findings:
        for column, variants in f.variants.items():
            for v in (column, *variants):
                assert any(ln.startswith(f"| {f.claim} | {column} | `{v}`") for ln in lines), v
    assert "modularity_signed" in sens and "modularity_ridgeway" in sens


def test_training_adequacy_section_and_collapsed_findings(tmp_path, study):
    s = with_task(TABULAR, adequacy_task)
    grid = s.grid("paper", architectures=("vae", "beta_vae"), datasets=("adult", "dsprites"))
    run_study(s, grid, tmp_path, progress=False)
    md = write_report(tmp_path, figures=False).read_text()
    section = md.split("## Training adequacy")[1].split("##")[0]
    assert "| beta_vae | adult | 3 | 0 | 3 of 3 | 37 [37, 37] |" in section
    assert "| vae | dsprites | 3 | 4 | 0 of 3 |" in section
    assert "6 of 12 runs collapsed" in section and "Not recorded" not in section
    rows = _rows_of(md, TABULAR.findings)
    # the beta-VAE domain comparison uses only (collapsed) beta-VAE runs: flagged
    assert "runs mostly collapsed: 6 of 6 runs" in rows["betavae_ces_domain"]
    # r(CES, MSE) uses all 12 runs, half collapsed: not "mostly"
    assert "collapsed" not in rows["ces_mse"]


def test_adequacy_not_recorded(tmp_path, study):
    grid = study.grid("paper", architectures=("vae",), datasets=("adult",), seeds=(42,))
    run_study(study, grid, tmp_path, progress=False)
    md = write_report(tmp_path, figures=False).read_text()
    assert "Training adequacy was not recorded" in md


@pytest.mark.parametrize("chosen, grid_args", [
    (TABULAR, {"architectures": ("vae", "beta_vae"), "datasets": ("adult", "dsprites"),
               "seeds": (42,)}),
    (TABULAR, {"architectures": ("vae", "beta_vae"), "datasets": ("adult",),
               "seeds": (42, 123)}),
    (IMAGE, {"architectures": ("vae", "vq_vae"), "datasets": ("dsprites", "shapes3d"),
             "seeds": (42,)}),
])
def test_a_four_run_study_is_underpowered_never_not_reproduced(tmp_path, chosen, grid_args):
    s = with_task(chosen, adequacy_task)
    grid = s.grid("paper", **grid_args)
    assert len(grid) == 4
    run_study(s, grid, tmp_path, progress=False)
    md = write_report(tmp_path, figures=False).read_text()
    rows = _rows_of(md, chosen.findings)
    for key, line in rows.items():
        assert "**underpowered**" in line or "**not computable**" in line, (key, line)
        assert "**not reproduced**" not in line and "**reproduced**" not in line
    assert sum("**underpowered**" in line for line in rows.values()) >= 2


def test_overridden_profile_settings_withhold_the_verdicts(tmp_path):
    import dataclasses

    from circuitvae.study import run_study, write_report
    from circuitvae.zoo.studies import TABULAR

    def task(spec):
        return {"ces_calibrated": 0.1, "mse": 1.0}

    study = dataclasses.replace(TABULAR, task=task, prepare=None)
    grid = study.grid("cpu", architectures=["vae"], datasets=["adult"], seeds=[42], epochs=1)
    run_study(study, grid, tmp_path, progress=False)
    md = write_report(tmp_path, study=study, figures=False).read_text()
    assert "differ from the `cpu` profile in epochs" in md


def test_where_a_study_runs_does_not_withhold_its_verdicts(tmp_path):
    import dataclasses

    from circuitvae.study import run_study, write_report
    from circuitvae.zoo.studies import TABULAR

    def task(spec):
        return {"ces_calibrated": 0.1, "mse": 1.0}

    study = dataclasses.replace(TABULAR, task=task, prepare=None)
    grid = study.grid("cpu", architectures=["vae"], datasets=["adult"], seeds=[42],
                      device="cuda", data_root="elsewhere", download=False)
    run_study(study, grid, tmp_path, progress=False)
    md = write_report(tmp_path, study=study, figures=False).read_text()
    assert "Verdicts withheld" not in md and "differ from the" not in md


def test_the_correlations_section_shows_within_and_pooled_r():
    import pandas as pd

    from circuitvae.study.report import _correlations

    # within each dataset y rises with x; across datasets the means fall: Simpson's paradox
    rows = pd.DataFrame({"dataset": ["a"] * 4 + ["b"] * 4,
                         "x": [0, 1, 2, 3, 10, 11, 12, 13],
                         "y": [10.0, 11.1, 11.9, 13.0, 0.0, 1.1, 1.9, 3.0]})
    md = "\n".join(_correlations(rows, [("x", "y"), ("x", "missing")]))
    line = next(ln for ln in md.splitlines() if ln.startswith("| x | y | 8 |"))
    within, pooled = line.split(" | ")[3], line.split(" | ")[4]
    assert within.startswith("0.99") and pooled.startswith("-0.")
    assert "not computable: column missing" in md


def test_a_report_judged_as_another_study_says_so(tmp_path, study):
    grid = study.grid("quick", architectures=("vae",), datasets=("adult",), seeds=(42,))
    run_study(study, grid, tmp_path, progress=False)
    assert "Judged as study" not in write_report(tmp_path, figures=False).read_text()
    other = dataclasses.replace(study, name="tabular_other")
    with pytest.warns(UserWarning, match="holds runs of study 'tabular'; judging them by the "
                                         "findings of study 'tabular_other'"):
        md = write_report(tmp_path, study=other, figures=False).read_text()
    assert "**Judged as study `tabular_other`**: this folder's study.json names study " \
           "`tabular`" in md
