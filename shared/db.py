"""The one database handle every process shares, and how it is opened.

`db` is a peewee `DatabaseProxy`; each entry point calls `init_db(url)` once. SQLite runs in WAL
mode with a busy timeout and foreign keys on; PostgreSQL uses a small connection pool so that the
data plane's worker threads can each hold a connection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

from peewee import Database, DatabaseProxy, Model, SqliteDatabase, TextField
from playhouse.pool import PooledPostgresqlDatabase

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10_000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -4_000,  # 4 MB per connection: the data plane keeps one per DB thread
}


T = TypeVar("T")
MAX_IN_IDS = 512  # ids per IN (...) list


def binary_chunks(items: Sequence[T], most: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive runs whose lengths are powers of two, longest first, none above `most`.

    Each distinct number of rows or ids is a distinct SQL text, and SQLite keeps up to 128 compiled
    statements per connection, batch inserts among them large: with power-of-two runs a batch
    uses a handful of shapes that stay cached, instead of a new one (and more memory) per size.
    """
    size = 1 << (max(1, most).bit_length() - 1)
    start = 0
    while start < len(items):
        while size > len(items) - start:
            size >>= 1
        yield items[start : start + size]
        start += size


def create_private_file(path: str) -> None:
    """Create an empty file only its owner may read (0600), unless it exists.

    SQLite gives the -wal and -shm files the mode of the database file, so creating the database
    file this way keeps all three private whatever the process's umask.
    """
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first
    except FileNotFoundError:
        return  # no such directory: let SQLite report it when connecting
    os.close(fd)


def open_database(url: str) -> Database:
    """Build (but do not connect) a peewee database for a sqlite:/// or postgresql:// URL.

    A SQLite database file that does not exist yet is created empty with mode 0600.
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else parsed.path
        create_private_file(path)
        return SqliteDatabase(path or ":memory:", pragmas=SQLITE_PRAGMAS, timeout=10)
    if parsed.scheme in ("postgres", "postgresql"):
        return PooledPostgresqlDatabase(
            parsed.path.lstrip("/"),
            host=parsed.hostname or None,
            port=parsed.port or None,
            user=parsed.username or None,
            password=parsed.password or None,
            max_connections=32,
            stale_timeout=300,
            timeout=10,
        )
    raise ValueError(f"unsupported DATABASE_URL scheme {parsed.scheme!r}: use sqlite:/// or postgresql://")


def init_db(url: str) -> Database:
    """Point the shared proxy at the database named by `url` and return it."""
    database = open_database(url)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    """True when the proxy points at PostgreSQL (some statements differ by dialect)."""
    return isinstance(db.obj, PooledPostgresqlDatabase)


class JSONField(TextField):
    """A JSON document stored as text, portable across SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    """Base for every table: bound to the shared proxy, snake_case table names."""

    class Meta:
        database = db
        legacy_table_names = False


def write_transaction():  # type: ignore[no-untyped-def]
    """A transaction that takes the write lock up front.

    On SQLite a deferred transaction that reads and then writes can fail with "database is
    locked" without waiting; BEGIN IMMEDIATE waits on the busy timeout instead.
    """
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
