"""Fixtures every test package shares: settings and a clean database on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.db import db, init_db
from shared.settings import Secret, Settings
from tests.support import databases


@pytest.fixture(scope="session")
def prepared_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Backend name -> URL of a migrated database, filled on first use; dropped at the end."""
    urls: dict[str, str] = {}
    yield urls
    if "postgres" in urls:
        if not db.is_closed():
            db.close()
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()
        databases.drop_postgres_database(urls["postgres"])


@pytest.fixture(params=databases.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def database_url(
    backend: str, prepared_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database, bound to the shared proxy for the test."""
    if backend not in prepared_urls:
        prepared_urls[backend] = databases.prepare(backend, tmp_path_factory.mktemp(backend))
    url = prepared_urls[backend]
    database = init_db(url)
    databases.wipe(database, backend)
    yield url
    if not db.is_closed():
        db.close()
    if hasattr(database, "close_all"):
        database.close_all()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own var/ dir, the test database, fast timers."""
    return Settings(
        database_url=database_url,
        secret_key=Secret("test-secret-key"),
        var_dir=tmp_path / "var",
        keepalive_interval_s=15.0,
        config_poll_interval_s=0.2,
        settle_flush_interval_s=0.005,
    )
