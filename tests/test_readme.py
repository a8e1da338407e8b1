"""The README's configuration table names every variable the settings read, and nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = re.compile(r"^(TOLLGATE_[A-Z0-9_]+|DATABASE_URL|REDIS_URL)$")


def _read_by_settings() -> set[str]:
    """Every environment variable name written as a string in shared/settings.py."""
    tree = ast.parse((ROOT / "shared" / "settings.py").read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.match(node.value)
    }


def _configuration_table() -> set[str]:
    """The variables named in the first cell of the README's configuration table rows."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_setting_is_documented_in_the_configuration_table() -> None:
    read = _read_by_settings()
    assert len(read) > 10, "the settings' variable names were not found"
    missing = read - _configuration_table()
    assert not missing, f"README's configuration table lacks {sorted(missing)}"


def test_the_configuration_table_names_only_real_settings() -> None:
    stale = _configuration_table() - _read_by_settings()
    assert not stale, f"README documents variables nothing reads: {sorted(stale)}"
