"""The reproduce_* scripts of the newer studies are the command line under another name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["sparsity", "anomaly"])
def test_script_shows_the_study_command_line(name):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / f"reproduce_{name}.py"),
                           "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--profile" in done.stdout and "--architectures" in done.stdout


def test_a_bad_profile_is_named_before_anything_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "reproduce_sparsity.py"),
                           "--profile", "slow", "--out", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown profile 'slow'" in done.stderr
    assert not (tmp_path / "s").exists()
