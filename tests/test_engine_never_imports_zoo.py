"""The engine's first rule: no module under circuitvae/ imports circuitvae.zoo, even lazily.

Every module's AST is walked (function bodies included) for ``import``/``from ... import``
statements, relative ones resolved against the module's package, and for calls that import by
string (``importlib.import_module(...)``, ``__import__(...)``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "circuitvae"
ZOO = "circuitvae.zoo"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_zoo(name: str) -> bool:
    return name == ZOO or name.startswith(ZOO + ".")


def zoo_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """``line: what`` for every import of circuitvae.zoo in ``source`` (module ``module``)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call):
            fn = node.func
            fname = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if fname in ("import_module", "__import__") and node.args and isinstance(
                    node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{node.lineno}: {n}" for n in names if _is_zoo(n)]
    return found


def test_no_engine_module_imports_the_zoo():
    modules = sorted(ENGINE.rglob("*.py"))
    assert len(modules) > 30  # the scan sees the whole engine
    offenders = {}
    for path in modules:
        hits = zoo_imports(path.read_text(), _module_name(path), path.name == "__init__.py")
        if hits:
            offenders[str(path.relative_to(ENGINE.parent))] = hits
    assert offenders == {}


@pytest.mark.parametrize("source, module", [
    ("import circuitvae.zoo", "circuitvae.cli"),
    ("from circuitvae.zoo.data import load_dataset", "circuitvae.cli"),
    ("def f():\n    from ..zoo import build\n", "circuitvae.study.tasks"),
    ("def f():\n    from .. import zoo\n", "circuitvae.study.tasks"),
    ("from . import zoo", "circuitvae.plot"),
    ("import importlib\nimportlib.import_module('circuitvae.zoo.studies')", "circuitvae.cli"),
    ("__import__('circuitvae.zoo')", "circuitvae.cli"),
])
def test_the_scan_finds_every_form_of_import(source, module):
    assert zoo_imports(source, module)


@pytest.mark.parametrize("source, module", [
    ("from ..metrics import analyze", "circuitvae.study.tasks"),
    ("from .zoology import x", "circuitvae.study.tasks"),
    ("import circuitvae.zoology", "circuitvae.cli"),
])
def test_the_scan_ignores_other_imports(source, module):
    assert zoo_imports(source, module) == []
