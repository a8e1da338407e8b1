"""Rate limits: requests and tokens per minute on API keys, and per member user on groups (NULL: none)."""

from peewee import *  # noqa: F403

COLUMNS = (
    ("api_key", "rpm_limit"),
    ("api_key", "tpm_limit"),
    ("groups", "rpm_limit"),
    ("groups", "tpm_limit"),
)


def up(migrator, db):
    migrator.migrate(
        *(migrator.add_column(table, column, BigIntegerField(null=True)) for table, column in COLUMNS)
    )


def down(migrator, db):
    migrator.migrate(*(migrator.drop_column(table, column) for table, column in COLUMNS))
