"""examples/wrap_your_own_vae.py runs end to end (so it cannot rot) and says true things."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wrap_your_own_vae.py"


def test_example_runs_and_writes_its_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    namespace = runpy.run_path(str(EXAMPLE))  # defines, does not run (not __main__)
    out = namespace["main"](["--plots", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "whole layer reproduces the source: True" in printed
    assert "hook_z" in printed  # the adapter's latent sites are listed
    assert all(math.isfinite(v) for v in out.values())
    assert 0.0 <= out["specificity"] <= 1.0
    assert out["patch_whole"] > 0.0 and out["patch_units"] > 0.0
    for name in ("specificity.png", "ces.png", "traversals.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_example_model_knows_nothing_of_circuitvae():
    source = EXAMPLE.read_text()
    body = source.split('"""', 2)[2]  # after the module docstring
    model_part, analysis = body.split("-- the analysis")
    assert "circuitvae" not in model_part
    assert "import circuitvae as cv" in analysis
