"""The device setting of the papers' studies, and placement of every tensor with the model.

No GPU is needed: a float64 model is the placement check that runs anywhere. Every tensor the
trainer and the analysis create must follow the model's placement (device *and* dtype, set by
the same code path); a stray float32 tensor meets float64 weights in a matmul and fails.
"""

from __future__ import annotations

import math

import pytest
import torch

import circuitvae as cv
from circuitvae.protocol import CircuitVAEError
from circuitvae.study import SettingsError
from circuitvae.zoo import build, train
from circuitvae.zoo.data import load_dataset
from circuitvae.zoo.studies import TABULAR, prepare_data


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU", ""])
def test_bad_device_names_are_errors(device):
    with pytest.raises(SettingsError, match="setting 'device' must be 'cpu', 'cuda'"):
        TABULAR.settings("quick", device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu_stops_before_any_run():
    grid = TABULAR.grid("quick", architectures=["vae"], datasets=["planted"], seeds=[42],
                        device="cuda")
    with pytest.raises(CircuitVAEError, match="device='cuda', but torch sees no CUDA device"):
        prepare_data(grid)


def test_cli_device_is_the_device_setting(tmp_path, capsys):
    from circuitvae.cli import main

    rc = main(["study", "run", "tabular", "--out", str(tmp_path / "s"), "--device", "tpu",
               "--quiet"])
    assert rc == 2 and "setting 'device' must be" in capsys.readouterr().err


@pytest.mark.parametrize("arch", ["vae", "factor_vae"])
def test_training_and_analysis_follow_the_model_placement(arch):
    data = load_dataset("planted", seed=0, n_train=200, n_test=60, n_factors=2, factor_bins=2)
    model = build(arch, dataset=data, seed=0).double()
    model = train(model, data, seed=0, max_epochs=1, verbose=False)
    assert next(model.parameters()).dtype == torch.float64
    row = cv.analyze(model, data, n=40, seed=0, n_score_train=50, n_score_eval=20,
                     fgd_n_estimators=3, dci_n_estimators=3, strict=True).iloc[0]
    assert math.isfinite(row["ces_calibrated"]) and math.isfinite(row["mse"])
    assert row["skipped"] == ""


def test_a_cuda_index_beyond_the_devices_is_named(monkeypatch):
    from circuitvae.study.settings import require_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    require_device("cuda:1")
    require_device("cuda")
    with pytest.raises(CircuitVAEError, match=r"device='cuda:2', but torch sees 2 CUDA "
                                              r"device\(s\) here \(cuda:0 to cuda:1\)"):
        require_device("cuda:2")
