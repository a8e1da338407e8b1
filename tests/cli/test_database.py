"""`tollgate db upgrade` applies every migration once and is safe to run again."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from console.cli import main
from shared import migrations
from shared.db import db, open_database
from shared.models import ALL_MODELS
from tests.cli.conftest import Cli
from tests.support import databases


def _fresh_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url = databases.session_postgres_url() + "_fresh"
    databases.create_postgres_database(url)
    return url


def test_upgrade_creates_the_schema_once(backend: str, tmp_path: Path) -> None:
    url = _fresh_url(backend, tmp_path)
    env = {"DATABASE_URL": url, "TOLLGATE_SECRET_KEY": "s", "TOLLGATE_VAR_DIR": str(tmp_path / "var")}
    previous = db.obj
    try:
        first = CliRunner().invoke(main, ["db", "upgrade"], env=env, catch_exceptions=False)
        second = CliRunner().invoke(main, ["db", "upgrade", "--json"], env=env, catch_exceptions=False)
    finally:
        db.initialize(previous)
    names = sorted(p.stem for p in migrations.DIRECTORY.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert first.exit_code == 0 and first.stdout.split() == [w for n in names for w in ("applied", n)]
    assert second.exit_code == 0 and json.loads(second.stdout) == {"applied": []}
    database = open_database(url)
    try:
        assert {m._meta.table_name for m in ALL_MODELS} <= set(database.get_tables())
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()
            databases.drop_postgres_database(url)


def test_upgrade_on_a_current_database_says_so(cli: Cli) -> None:
    assert cli.ok("db", "upgrade").strip() == "database is up to date"
