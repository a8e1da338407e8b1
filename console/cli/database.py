"""`tollgate db ...`: the schema."""

from __future__ import annotations

import click

from shared import migrations

from .runtime import emit, json_option, opened_database


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@json_option
def upgrade(as_json: bool) -> None:
    """Apply pending migrations (safe to run again)."""
    with opened_database():
        applied = migrations.upgrade()
    emit(
        {"applied": applied},
        as_json,
        lambda r: "\n".join(f"applied {name}" for name in r["applied"]) or "database is up to date",
    )
