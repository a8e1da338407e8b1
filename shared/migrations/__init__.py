"""Numbered schema migrations, applied in order by `tollgate db upgrade`.

Each `NNNN_name.py` beside this file defines `up(migrator, db)` (and `down`) with frozen model
copies, as peewee's `playhouse.migrations` runner expects; the applied names are kept in the
`schema_migration` table.
"""

from __future__ import annotations

from pathlib import Path

from peewee import Database
from playhouse.migrations import Runner

from shared.db import db

DIRECTORY = Path(__file__).resolve().parent


def runner(database: Database | None = None) -> Runner:
    """A migration runner over this package's scripts for `database` (default: the proxy's)."""
    return Runner(database or db.obj, directory=str(DIRECTORY))


def upgrade(database: Database | None = None) -> list[str]:
    """Apply every pending migration; return the names applied."""
    return runner(database).up()


def pending(database: Database | None = None) -> list[str]:
    """Names of migrations not yet applied."""
    return [m.name for m in runner(database).status() if m.applied is None and m.path]
