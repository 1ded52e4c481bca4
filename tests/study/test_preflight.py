"""A study checks its data files before the first run and stops at once when they are missing."""

from __future__ import annotations

import dataclasses

import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import ResultStore, run_study
from circuitvae.zoo.studies import TABULAR, prepare_data


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data anywhere (no embedded copies either), and every download fails (no network is
    ever touched)."""
    from circuitvae.zoo.data import files

    def no_network(url, dest):
        raise OSError(f"offline: {url}")

    monkeypatch.setattr(files, "download_url", no_network)
    monkeypatch.setattr(files, "EMBEDDED_DIR", tmp_path / "no-embedded-copies")
    monkeypatch.setenv("CIRCUITVAE_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_missing_uci_files_stop_the_study_before_any_run(offline, tmp_path):
    grid = TABULAR.grid("quick", architectures=["vae"], datasets=["german_credit", "adult"],
                        seeds=[42])
    with pytest.raises(CircuitVAEError, match=r"(?s)missing.*german\.data.*adult\.data"):
        run_study(TABULAR, grid, tmp_path / "study", progress=False)
    assert ResultStore(tmp_path / "study").read_rows() == {}  # nothing ran, nothing recorded


def test_datasets_without_files_need_no_preflight(offline, tmp_path):
    prepare_data(TABULAR.grid("quick", architectures=["vae"], datasets=["dsprites"], seeds=[42]))


def test_runner_calls_the_study_prepare_hook(tmp_path):
    seen = []

    def task(spec):
        return {"metrics": {}, "config": {}, "provenance": {}, "analysis": {}}

    study = dataclasses.replace(TABULAR, task=task, prepare=lambda grid: seen.append(grid))
    grid = study.grid("quick", architectures=["vae"], datasets=["german_credit"], seeds=[42])
    run_study(study, grid, tmp_path / "s", progress=False)
    assert seen == [grid]
