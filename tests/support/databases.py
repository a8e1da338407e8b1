"""Test databases: one migrated SQLite file and one PostgreSQL database per test session.

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


def ensure_postgres_database(url: str) -> None:
    """Create the test database if it does not exist (connecting to the server's `postgres` db)."""
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
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
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def prepare(backend: str, tmp_dir: Path) -> str:
    """Return the URL of a freshly migrated database for `backend`."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / 'tollgate-test.db'}"
        init_db(url)
    else:
        url = POSTGRES_URL
        ensure_postgres_database(url)
        init_db(url)
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
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
