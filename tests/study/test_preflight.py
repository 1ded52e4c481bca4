"""A study checks its data files before the first run and stops at once when they are missing."""

from __future__ import annotations

import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import run_study, tabular_grid
from circuitvae.study.grid import subset
from circuitvae.study.store import ResultStore


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data anywhere, and every download fails (no network is ever touched)."""
    from circuitvae.zoo.data import files

    def no_network(url, dest):
        raise OSError(f"offline: {url}")

    monkeypatch.setattr(files, "download_url", no_network)
    monkeypatch.setenv("CIRCUITVAE_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_missing_uci_files_stop_the_study_before_any_run(offline, tmp_path):
    grid = subset(tabular_grid("quick"), ["vae"], ["german_credit", "adult"], [42])
    with pytest.raises(CircuitVAEError, match=r"(?s)missing.*german\.data.*adult\.data"):
        run_study(grid, tmp_path / "study", progress=False)
    assert ResultStore(tmp_path / "study").read_rows() == {}  # nothing ran, nothing recorded


def test_datasets_without_files_need_no_preflight(offline, tmp_path):
    from circuitvae.study.tasks import prepare_data

    prepare_data(subset(tabular_grid("quick"), ["vae"], ["dsprites"], [42]))  # no error


def test_runner_calls_the_task_prepare_hook(tmp_path):
    seen = []

    def task(spec):
        return {"metrics": {}, "config": {}, "provenance": {}, "analysis": {}}

    task.prepare = lambda grid: seen.append(grid.name)
    grid = subset(tabular_grid("quick"), ["vae"], ["german_credit"], [42])
    run_study(grid, tmp_path / "s", task=task, progress=False)
    assert seen == ["tabular"]
