"""Fixtures for the data tests: no network, an isolated cache, generated files in official formats.

Tests that need the real UCI files read the ``CIRCUITVAE_DATA`` environment variable and skip
when it does not point at them.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from circuitvae.zoo.data import files


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test: downloads fail loudly, and the user cache is a fresh temporary folder."""

    def no_network(url, dest):
        raise OSError(f"network disabled in tests ({url})")

    monkeypatch.setattr(files, "download_url", no_network)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """Hide the real data folder and the package's embedded copies from the search path."""
    monkeypatch.delenv("CIRCUITVAE_DATA", raising=False)
    monkeypatch.setattr(files, "EMBEDDED_DIR", tmp_path / "no-embedded-copies")


@pytest.fixture
def only_embedded(monkeypatch):
    """Nothing on disk but the package's embedded copies (the cache is empty, no network)."""
    monkeypatch.delenv("CIRCUITVAE_DATA", raising=False)


@pytest.fixture
def data_env() -> Path | None:
    """The folder CIRCUITVAE_DATA names (request before ``no_env``), or None."""
    env = os.environ.get("CIRCUITVAE_DATA")
    return Path(env) if env else None


@pytest.fixture
def real_data() -> Path:
    """The real UCI data folder named by CIRCUITVAE_DATA, or skip."""
    env = os.environ.get("CIRCUITVAE_DATA")
    if not env or not (Path(env) / "adult" / "adult.data").is_file():
        pytest.skip("CIRCUITVAE_DATA does not point at the UCI data folder")
    return Path(env)


ADULT_ROWS = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, "
    "Male, 2174, 0, 40, United-States, <=50K",
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, "
    "White, Male, 0, 0, 13, United-States, >50K",
    "38, ?, 215646, HS-grad, 9, Divorced, ?, Not-in-family, White, Male, 0, 0, 40, ?, <=50K",
    "53, Private, 234721, 11th, 7, Married-civ-spouse, Handlers-cleaners, Husband, Black, Male, "
    "0, 0, 40, United-States, <=50K",
    "28, Private, 338409, Bachelors, 13, Married-civ-spouse, Prof-specialty, Wife, Black, "
    "Female, 0, 0, 40, Cuba, >50K",
    "37, Private, 284582, Masters, 14, Married-civ-spouse, Exec-managerial, Wife, White, Female, "
    "0, 1902, 40, United-States, >50K",
]
ADULT_TEST_ROWS = [
    "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, "
    "0, 40, United-States, <=50K.",
    "44, Never-worked, 160323, Some-college, 10, Married-civ-spouse, ?, Husband, Black, Male, "
    "7688, 0, 40, Peru, >50K.",
    "18, ?, 103497, Some-college, 10, Never-married, ?, Own-child, White, Female, 0, 0, 30, ?, "
    "<=50K.",
]


@pytest.fixture
def adult_dir(tmp_path) -> Path:
    """A generated root with adult/adult.data and adult/adult.test in the official format."""
    d = tmp_path / "gen" / "adult"
    d.mkdir(parents=True)
    (d / "adult.data").write_text("\n".join(ADULT_ROWS) + "\n\n")
    (d / "adult.test").write_text("|1x3 Cross validator\n" + "\n".join(ADULT_TEST_ROWS) + "\n\n")
    return d.parent


def bank_csv(n: int = 60, seed: int = 0) -> str:
    """bank-full.csv text in the official format (quoted strings, ';', header)."""
    rng = np.random.default_rng(seed)
    header = ('"age";"job";"marital";"education";"default";"balance";"housing";"loan";'
              '"contact";"day";"month";"duration";"campaign";"pdays";"previous";"poutcome";"y"')
    lines = [header]
    for i in range(n):
        job = rng.choice(["management", "technician", "unknown"])
        y = "yes" if i % 4 == 0 else "no"
        lines.append(
            f'{rng.integers(20, 70)};"{job}";"married";"tertiary";"no";{rng.integers(-500, 5000)};'
            f'"yes";"no";"unknown";{rng.integers(1, 31)};"may";{rng.integers(1, 900)};'
            f'{rng.integers(1, 5)};-1;0;"unknown";"{y}"'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_bank_csv():
    return bank_csv


@pytest.fixture
def make_zip():
    """zip bytes holding {name: bytes} (values may themselves be zip bytes: nesting)."""

    def make(members: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return buf.getvalue()

    return make


def norb_bytes(array: np.ndarray) -> bytes:
    """A NORB binary matrix file for ``array`` (uint8 or int32)."""
    magic = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}[array.dtype]
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    head = np.array([magic, array.ndim, *dims], dtype="<i4").tobytes()
    return head + np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()


@pytest.fixture
def make_norb():
    return norb_bytes
