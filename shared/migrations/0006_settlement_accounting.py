"""Usage records say how their charge was collected: the hold, the balance past it, or not at all."""

from peewee import *  # noqa: F403

COLUMNS = (
    ("held", BigIntegerField(default=0)),
    ("shortfall", BigIntegerField(default=0)),
    ("off_hold", BigIntegerField(default=0)),
    ("hold_lost", BooleanField(default=False)),
)


def up(migrator, db):
    migrator.migrate(*(migrator.add_column("usage_record", name, field) for name, field in COLUMNS))
    migrator.migrate(migrator.add_index("usage_record", ("status", "created_at"), False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("usage_record", "usage_record_status_created_at"))
    migrator.migrate(*(migrator.drop_column("usage_record", name) for name, _ in COLUMNS))
