"""Griffe extensions for the docs: find circuitvae.zoo / circuitvae.adapters; render reST roles.

PackageDirs: so mkdocstrings finds circuitvae.zoo and circuitvae.adapters.

pyproject.toml ships the repo-root folders ``zoo/`` and ``adapters/`` as the import packages
``circuitvae.zoo`` and ``circuitvae.adapters`` (a setuptools ``package-dir`` mapping). Griffe
reads ``circuitvae`` from ``circuitvae/`` and finds submodules by walking that folder, so it never
sees the mapped ones. When the top package is loaded, this extension loads each mapped folder
and attaches it at its dotted name. Configure it in mkdocs.yml with the mapping, folders
relative to the repository root::

    extensions:
      - docs/_griffe/extensions.py:PackageDirs:
          packages: {circuitvae.zoo: zoo, circuitvae.adapters: adapters}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

ROOT = Path(__file__).resolve().parents[2]


class PackageDirs(griffe.Extension):
    """Attach package-dir mapped folders to the package griffe has just loaded."""

    def __init__(self, packages: dict[str, str]) -> None:
        super().__init__()
        self.packages = dict(packages)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        # Shallow names first, so circuitvae.a is attached before circuitvae.a.b.
        for dotted in sorted(self.packages, key=lambda name: name.count(".")):
            top, _, rest = dotted.partition(".")
            if top != pkg.name or not rest:
                continue
            *parents, name = rest.split(".")
            parent = pkg
            for part in parents:
                parent = parent.get_member(part)
            init = ROOT / self.packages[dotted] / "__init__.py"
            if not init.is_file():
                raise griffe.LoadingError(f"{dotted}: no package at {init}")
            # griffe has no public API to load a folder under a given parent module; this is the
            # loader's own method for submodules (griffe 2.x).
            module = loader._load_module(name, init, submodules=True, parent=parent)
            parent.set_member(name, module)
            loader.expand_exports(module)
            loader.expand_wildcards(module, external=False)


ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|obj|data|exc|const|math|ref):`~?([^`]+)`")
LITERAL_BLOCK = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)


class RstRoles(griffe.Extension):
    """Render the reST bits of the project's docstrings as markdown.

    ``:func:`name``` becomes ``name`` in code font, and a paragraph ending in ``::`` (a reST
    literal block follows, indented, which markdown also reads as code) ends in ``:``.
    """

    def _clean(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            text = ROLE.sub(r"`\1`", obj.docstring.value)
            obj.docstring.value = LITERAL_BLOCK.sub(r"\1:", text)

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        self._clean(obj)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._clean(pkg)
