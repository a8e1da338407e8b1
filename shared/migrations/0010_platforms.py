"""Regional catalogues: a model's platforms (NULL: every platform, so existing models stay on all
of them) and each API key's platform ("intl" for existing keys, which then see every model as
before)."""

from peewee import *  # noqa: F403


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("model", "platforms", TextField(null=True)),
        migrator.add_column("api_key", "platform", CharField(default="intl", max_length=8)),
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("model", "platforms"), migrator.drop_column("api_key", "platform"))
