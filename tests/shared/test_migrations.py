"""The numbered migrations build exactly the schema the models declare."""

from __future__ import annotations

import re

from shared import migrations
from shared.db import db
from shared.models import ALL_MODELS
from shared.password_resets import PasswordReset
from shared.sessions import ConsoleSession
from shared.throttle import LoginThrottle
from tests.support import databases

# Tables whose models live outside shared/models.py.
SIGN_IN_MODELS = [LoginThrottle, ConsoleSession, PasswordReset]


def test_migration_numbers_are_unique() -> None:
    numbers = [int(re.match(r"\d+", p.name).group()) for p in migrations.DIRECTORY.glob("[0-9]*.py")]
    assert numbers, "no migrations found"
    assert len(numbers) == len(set(numbers))


def test_upgrade_builds_every_model_table(database_url: str) -> None:
    assert databases.models_cover_schema(db.obj) == set()
    assert migrations.pending() == []


def test_every_model_column_exists(database_url: str) -> None:
    for model in ALL_MODELS:
        columns = {c.name for c in db.obj.get_columns(model._meta.table_name)}
        declared = {f.column_name for f in model._meta.sorted_fields}
        assert declared <= columns, f"{model.__name__} lacks {declared - columns}"


def test_sign_in_tables_match_their_models(database_url: str) -> None:
    for model in SIGN_IN_MODELS:
        columns = {c.name for c in db.obj.get_columns(model._meta.table_name)}
        declared = {f.column_name for f in model._meta.sorted_fields}
        assert declared == columns, f"{model.__name__}: {declared ^ columns}"


def test_the_sign_in_migration_goes_down_and_up_again(database_url: str) -> None:
    migrations.runner().down("0007_sign_in")
    assert {c.name for c in db.obj.get_columns("login_throttle")} == {"key", "failures", "window_start"}
    assert not {"console_session", "password_reset"} & set(db.obj.get_tables())
    assert "0007_sign_in" in migrations.upgrade()
    assert migrations.pending() == []
