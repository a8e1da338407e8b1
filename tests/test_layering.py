"""Imports go one way, console -> shared <- dataplane, and only settings reads the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BANNED = {
    "shared": {"flask", "flask_login", "flask_wtf", "starlette", "uvicorn", "console", "dataplane"},
    "console": {"dataplane", "starlette"},
    "dataplane": {"console", "flask", "flask_login", "flask_wtf"},
}


def _sources(package: str) -> list[Path]:
    """The package's Python files; never none, or every check below would pass on nothing."""
    sources = sorted((ROOT / package).rglob("*.py"))
    assert sources, f"no Python files under {package}/"
    return sources


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(BANNED))
def test_package_imports_respect_layering(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _sources(package)
        for line, name in _imports(path)
        if name.split(".")[0] in BANNED[package]
    ]
    assert offences == []


@pytest.mark.parametrize("package", sorted(BANNED))
def test_only_settings_reads_the_environment(package: str) -> None:
    readers = [
        str(path.relative_to(ROOT))
        for path in _sources(package)
        if path != ROOT / "shared" / "settings.py"
        and ("os.environ" in path.read_text() or "os.getenv" in path.read_text())
    ]
    assert readers == []


def test_no_function_level_imports() -> None:
    """Imports inside functions hide cycles; the layering should make them unnecessary."""
    offences = []
    for package in BANNED:
        for path in _sources(package):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for func in ast.walk(tree):
                if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    offences += [
                        f"{path.relative_to(ROOT)}:{n.lineno}"
                        for n in ast.walk(func)
                        if isinstance(n, (ast.Import, ast.ImportFrom))
                    ]
    assert offences == []
