import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import GridSpec, image_grid, run_id, study_grid, subset, tabular_grid


def test_paper_grids_have_the_papers_sizes():
    t, i = tabular_grid(), image_grid("paper")
    assert len(t) == len(list(t.runs())) == 75
    assert len(i) == len(list(i.runs())) == 90
    assert len({r.run_id for r in t.runs()}) == 75
    assert "vq_vae" in i.architectures and "vq_vae" not in t.architectures
    assert i.settings()["patience"] == 20 and i.settings()["analysis_n"] == 1000


def test_run_id_and_overrides():
    assert run_id("beta_vae", "adult", 42) == "beta_vae__adult__42"
    g = tabular_grid("quick", epochs=1)
    spec = next(g.runs())
    assert spec.hparams["epochs"] == 1 and spec.hparams["n_train"] == 2000
    assert spec.run_id == f"{spec.architecture}__{spec.dataset}__{spec.seed}"


def test_roundtrip_and_subset():
    g = subset(study_grid("image"), ["vae"], ["dsprites"], [1, 2])
    assert GridSpec.from_dict(g.to_dict()) == g
    assert [r.run_id for r in g.runs()] == ["vae__dsprites__1", "vae__dsprites__2"]


def test_bad_grids():
    with pytest.raises(CircuitVAEError, match="unknown profile"):
        GridSpec("x", ("vae",), ("adult",), (1,), "slow")
    with pytest.raises(CircuitVAEError, match="repeats"):
        GridSpec("x", ("vae", "vae"), ("adult",), (1,))
    with pytest.raises(CircuitVAEError, match="no datasets"):
        GridSpec("x", ("vae",), (), (1,))
    with pytest.raises(CircuitVAEError, match="may not contain"):
        GridSpec("x", ("my__vae",), ("adult",), (1,))
    with pytest.raises(CircuitVAEError, match="unknown study"):
        study_grid("audio")


def test_study_machinery_does_not_import_the_zoo():
    import subprocess
    import sys

    code = ("import sys, circuitvae, circuitvae.study, circuitvae.study.tasks, circuitvae.stats, "
            "circuitvae.cli; print('circuitvae.zoo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_image_settings_apply_to_image_datasets_only():
    from circuitvae.study.tasks import run_settings

    g = tabular_grid("quick")
    by_dataset = {r.dataset: run_settings(r) for r in g.runs()}
    assert by_dataset["adult"]["analysis_n"] == 300
    assert by_dataset["dsprites"]["analysis_n"] == g.settings()["image"]["analysis_n"] < 300
    assert "image" not in by_dataset["adult"] and "image" not in by_dataset["dsprites"]
