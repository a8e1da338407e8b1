"""Login throttling: failed sign-in attempts counted per email and per client address."""

from peewee import *  # noqa: F403


class LoginThrottle(Model):
    key = CharField(primary_key=True, max_length=300)
    failures = IntegerField(default=0)
    window_start = DateTimeField()

    class Meta:
        table_name = "login_throttle"


TABLES = [LoginThrottle]


def up(migrator, db):
    db.bind(TABLES)
    db.create_tables(TABLES)


def down(migrator, db):
    migrator.migrate(migrator.drop_table("login_throttle"))
