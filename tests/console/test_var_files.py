"""Everything Tollgate writes under var/ is readable by its owner only, whatever the umask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from console import create_app
from shared import migrations
from shared.accounts import create_user
from shared.db import db, init_db
from shared.settings import Settings
from shared.setup_token import ensure_setup_token


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that takes nothing away, so only the modes Tollgate asks for count."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def fresh_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment that puts the secret key and the SQLite database in a new var/ dir."""
    var = tmp_path / "var"
    monkeypatch.setenv("TOLLGATE_VAR_DIR", str(var))
    for name in ("DATABASE_URL", "TOLLGATE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return var


def _modes(var: Path) -> dict[str, str]:
    return {str(p.relative_to(var)): oct(p.stat().st_mode & 0o777) for p in var.rglob("*") if p.is_file()}


def test_a_fresh_var_dir_holds_only_private_files(fresh_var: Path, permissive_umask: None) -> None:
    settings = Settings.from_env()  # writes the secret key (the vault's key is derived from it)
    database = init_db(settings.database_url)
    try:
        migrations.upgrade()
        create_app(settings)  # writes the setup token and connects the console
        with db.connection_context():
            create_user("someone@example.com")  # a write, so the WAL and its index exist
            modes = _modes(fresh_var)
    finally:
        database.close()
    assert {"secret_key", "setup_token", "tollgate.db", "tollgate.db-wal", "tollgate.db-shm"} <= set(modes)
    assert modes == dict.fromkeys(modes, "0o600")
    assert oct(fresh_var.stat().st_mode & 0o777) == "0o700"


def test_a_setup_token_file_left_readable_is_made_private(database_url: str, tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / "setup_token").write_text("old token\n")
    (var / "setup_token").chmod(0o644)
    assert ensure_setup_token(var)
    assert oct((var / "setup_token").stat().st_mode & 0o777) == "0o600"
