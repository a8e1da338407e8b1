"""Price versions keep the prices they replaced, so the change log shows each move before and after
(also for the versions recorded when an operator edits a price by hand)."""

from peewee import *  # noqa: F403


def up(migrator, db):
    migrator.migrate(migrator.add_column("price_version", "old_prices", TextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("price_version", "old_prices"))
