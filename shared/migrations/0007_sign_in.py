"""Sign-in hardening: throttle claims and backoff, server-side console sessions, password resets."""

from peewee import *  # noqa: F403


class User(Model):
    class Meta:
        table_name = "users"


class ConsoleSession(Model):
    user = ForeignKeyField(User, on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    created_at = DateTimeField()
    expires_at = DateTimeField(index=True)

    class Meta:
        table_name = "console_session"


class PasswordReset(Model):
    user = ForeignKeyField(User, on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    created_at = DateTimeField()
    expires_at = DateTimeField(index=True)
    used_at = DateTimeField(null=True)

    class Meta:
        table_name = "password_reset"


TABLES = [ConsoleSession, PasswordReset]
THROTTLE_COLUMNS = (
    ("pending", IntegerField(default=0)),
    ("pending_since", DateTimeField(null=True)),
    ("next_try_at", DateTimeField(null=True)),
)


def up(migrator, db):
    # The throttle's fixed window becomes a backoff that starts at the latest failure.
    migrator.migrate(migrator.rename_column("login_throttle", "window_start", "last_failure_at"))
    migrator.migrate(
        *(migrator.add_column("login_throttle", name, field) for name, field in THROTTLE_COLUMNS)
    )
    db.bind(TABLES)
    db.create_tables(TABLES)


def down(migrator, db):
    migrator.migrate(migrator.drop_table("password_reset"), migrator.drop_table("console_session"))
    migrator.migrate(*(migrator.drop_column("login_throttle", name) for name, _ in THROTTLE_COLUMNS))
    migrator.migrate(migrator.rename_column("login_throttle", "last_failure_at", "window_start"))
