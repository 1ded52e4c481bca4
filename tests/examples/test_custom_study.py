"""examples/custom_study.py: a study defined in one module runs end to end and is judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_study.py"


def test_custom_study_runs_and_reports(tmp_path):
    out = tmp_path / "custom"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(out)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "ok=4" in proc.stdout
    spec = json.loads((out / "study.json").read_text())
    assert spec["name"] == "custom" and spec["settings"]["epochs"] == 2
    md = (out / "report.md").read_text()
    assert "beta-VAE has a lower CES than the VAE" in md
    assert any(v in md for v in ("**reproduced**", "**not reproduced**"))
    assert (out / "figures" / "ces_calibrated_vs_mse.png").stat().st_size > 1000
