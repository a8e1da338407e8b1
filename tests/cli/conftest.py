"""Fixtures for the CLI tests: a runner bound to the test database, and a snapshot of every table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from console.cli import main
from shared.db import db
from tests.support.databases import table_names


@dataclass
class Cli:
    """Runs `tollgate ...` in-process with the environment a real shell would give it."""

    env: dict[str, str]

    def run(self, *args: str) -> Result:
        """Invoke the CLI; the command binds its own database, so the test's binding is restored after."""
        previous = db.obj
        try:
            return CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        finally:
            db.initialize(previous)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; return its stdout."""
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str) -> Any:
        """Run a command with --json; return the one parsed document."""
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str) -> str:
        """Run a command that must fail with a one-line message on stderr; return that line."""
        result = self.run(*args)
        assert result.exit_code != 0, result.output
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        return lines[0]


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    """The CLI pointed at the test database, as an operator's shell would run it."""
    return Cli(
        env={
            "DATABASE_URL": database_url,
            "TOLLGATE_SECRET_KEY": "cli-test-secret",
            "TOLLGATE_VAR_DIR": str(tmp_path / "var"),
        }
    )


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused command changed nothing."""
    return {
        table: sorted(db.execute_sql(f'SELECT * FROM "{table}"').fetchall(), key=repr)
        for table in table_names(db.obj)
    }
