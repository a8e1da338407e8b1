"""The benchmark's throw-away databases: a SQLite file, or a PostgreSQL database made and dropped.

PostgreSQL is the machine's own server (`BENCH_POSTGRES_URL`, by default the local `postgres`
superuser over TCP); each setup gets a database named `tollgate_bench_<random>` so a run never
touches another's rows, and it is dropped when the setup is done.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import psycopg2

from bench.processes import BenchError

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _server_command(sql: str) -> None:
    """Run one statement on the server's maintenance database (CREATE or DROP DATABASE)."""
    parsed = urlparse(POSTGRES_URL)
    try:
        conn = psycopg2.connect(
            dbname=parsed.path.lstrip("/") or "postgres",
            host=parsed.hostname,
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            connect_timeout=5,
        )
    except psycopg2.OperationalError as exc:
        raise BenchError(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}") from exc
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def create(kind: str, directory: Path) -> str:
    """A new empty database of `kind` ("sqlite" or "postgres"); returns its URL."""
    if kind == "sqlite":
        return f"sqlite:///{directory / f'bench-{secrets.token_hex(4)}.db'}"
    name = f"tollgate_bench_{secrets.token_hex(4)}"
    _server_command(f'CREATE DATABASE "{name}"')
    return urlparse(POSTGRES_URL)._replace(path=f"/{name}").geturl()


def drop(url: str) -> None:
    """Drop a PostgreSQL database made by `create` (a SQLite file goes with the temporary dir)."""
    if url.startswith("postgres"):
        name = urlparse(url).path.lstrip("/")
        _server_command(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
