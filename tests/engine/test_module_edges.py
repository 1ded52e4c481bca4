"""Clean edges between the engine's modules: no import circle through the backend, no private
names across packages, no metric module importing the package root."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "circuitvae"
#: private modules meant to be shared (the version lives in one place, re-exported by the root)
SHARED_PRIVATE = {"circuitvae._version"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(ENGINE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(module: str, path: Path) -> list[tuple[int, str, str]]:
    """(line, imported module, imported name or '') for every import in the module's source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [(node.lineno, target, a.name) for a in node.names]
    return found


def _package(module: str, modules: dict[str, Path]) -> str:
    return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_module_or_name_is_imported_across_packages():
    modules = _modules()
    offenders = []
    for module, path in modules.items():
        own = _package(module, modules)
        for line, target, name in _imports(module, path):
            if not target.startswith("circuitvae"):
                continue
            full = f"{target}.{name}" if name and f"{target}.{name}" in modules else target
            if full not in modules or full in SHARED_PRIVATE:
                continue
            other = _package(full, modules)
            private_module = any(_is_private(p) for p in full.split("."))
            private_name = _is_private(name) and full == target
            if other != own and (private_module or private_name):
                offenders.append(f"{module}:{line} imports {full}{'.' + name if name else ''}")
    assert offenders == []


def test_the_nnsight_backend_does_not_import_the_hook_module():
    modules = _modules()
    targets = {t for _, t, _ in _imports("circuitvae.backends.nnsight",
                                         modules["circuitvae.backends.nnsight"])}
    assert "circuitvae.hooks" not in targets
    assert {"circuitvae.passes", "circuitvae.patches", "circuitvae.sitemap"} <= targets


@pytest.mark.parametrize("module", [m for m in _modules() if m.startswith("circuitvae.metrics")])
def test_metric_modules_do_not_import_the_package_root(module):
    path = _modules()[module]
    assert all(t != "circuitvae" for _, t, _ in _imports(module, path)), module


def test_the_version_is_defined_once():
    import circuitvae
    from circuitvae._version import __version__

    assert circuitvae.__version__ is __version__
    assert "__version__ =" not in (ENGINE / "__init__.py").read_text()
