"""The distribution ships every package, with adapters/ and zoo/ under circuitvae."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"circuitvae": "circuitvae", "circuitvae.adapters": "adapters", "circuitvae.zoo": "zoo"}


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == FOLDERS
    found = set()
    for package, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    assert found == set(config["packages"])


def test_subpackages_import_under_circuitvae():
    import circuitvae.adapters
    import circuitvae.zoo

    assert circuitvae.adapters.wrap is circuitvae.wrap  # type: ignore[attr-defined]
    assert Path(circuitvae.zoo.__file__).parent.name == "zoo"
