"""The documentation site builds with ``mkdocs build --strict`` (skipped without mkdocs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_strict_build(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index.html", "api/zoo/index.html", "api/adapters/index.html",
                 "api/plot/index.html"):
        assert (tmp_path / "site" / page).is_file()
    zoo = (tmp_path / "site" / "api/zoo/index.html").read_text()
    assert 'id="circuitvae.zoo.build"' in zoo  # the package-dir mapped package is documented
    assert ":func:`" not in (tmp_path / "site" / "api/plot/index.html").read_text()
    # formulas are typeset offline: KaTeX ships with the site, no page loads from elsewhere
    site = tmp_path / "site"
    assert (site / "assets/katex/katex.min.js").is_file()
    assert any((site / "assets/katex/fonts").glob("*.woff2"))
    page = (site / "interventions/index.html").read_text()
    assert 'class="arithmatex"' in page and "assets/katex/katex.min.js" in page
    assert 'class="highlight"' in page  # code is highlighted (pygments)
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert "fonts.googleapis" not in text and "cdn.jsdelivr" not in text, html
