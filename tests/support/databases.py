"""Test databases: one migrated SQLite file and one PostgreSQL database per test session.

The PostgreSQL database is named after the test process (`tollgate_test_<pid>`) and dropped when
the session ends, so two runs on one machine never touch each other's rows.

Each test gets an empty schema (tables truncated), so tests never see each other's rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
from peewee import Database

from shared import migrations
from shared.db import db, init_db
from shared.models import ALL_MODELS

POSTGRES_URL = os.environ.get(
    "TOLLGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/tollgate_test"
)
BACKENDS = ("sqlite", "postgres")


def _server_command(url: str, sql: str) -> None:
    """Run one statement on the server's `postgres` database (CREATE/DROP DATABASE)."""
    parsed = urlparse(url)
    conn = psycopg2.connect(
        dbname="postgres",
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def session_postgres_url(base_url: str = POSTGRES_URL) -> str:
    """A database name of this test process's own, so parallel runs never share tables."""
    parsed = urlparse(base_url)
    return parsed._replace(path=f"{parsed.path}_{os.getpid()}").geturl()


def create_postgres_database(url: str) -> None:
    """(Re)create the empty database named by `url`."""
    name = urlparse(url).path.lstrip("/")
    _server_command(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _server_command(url, f'CREATE DATABASE "{name}"')


def drop_postgres_database(url: str) -> None:
    """Drop the database named by `url` (closing other sessions on it)."""
    name = urlparse(url).path.lstrip("/")
    _server_command(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(backend: str, tmp_dir: Path) -> str:
    """Return the URL of a freshly migrated database for `backend`."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / 'tollgate-test.db'}"
        init_db(url)
    else:
        url = session_postgres_url()
        create_postgres_database(url)
        init_db(url)
    migrations.upgrade()
    db.close()
    return url


def table_names(database: Database) -> list[str]:
    """Every table of the schema except the migration history."""
    return [t for t in database.get_tables() if t != "schema_migration"]


def wipe(database: Database, backend: str) -> None:
    """Delete every row of every table (ids restart)."""
    tables = table_names(database)
    if backend == "postgres":
        quoted = ", ".join(f'"{t}"' for t in tables)
        database.execute_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        return
    database.execute_sql("PRAGMA foreign_keys = OFF")
    with database.atomic():
        for table in tables:
            database.execute_sql(f'DELETE FROM "{table}"')
        if "sqlite_sequence" in {r[0] for r in database.execute_sql("SELECT name FROM sqlite_master")}:
            database.execute_sql("DELETE FROM sqlite_sequence")
    database.execute_sql("PRAGMA foreign_keys = ON")


def models_cover_schema(database: Database) -> set[str]:
    """Tables the models declare that the migrated schema lacks (empty when they agree)."""
    return {m._meta.table_name for m in ALL_MODELS} - set(database.get_tables())
