"""Customer notifications: each customer's mail preferences and low-balance threshold, and the
outbox that the worker delivers mail from."""

from peewee import *  # noqa: F403


class User(Model):
    class Meta:
        table_name = "users"


class NoticePreference(Model):
    user = ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
    deposit_credited = BooleanField(default=True)
    low_balance = BooleanField(default=True)
    key_created = BooleanField(default=True)
    low_balance_threshold = BigIntegerField(null=True)
    low_balance_warned = BooleanField(default=False)

    class Meta:
        table_name = "notice_preference"


class OutgoingMail(Model):
    id = AutoField()
    to_address = CharField(max_length=254)
    subject = CharField(max_length=300)
    body = TextField()
    kind = CharField(max_length=32)
    created_at = DateTimeField(index=True)
    sent_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")

    class Meta:
        table_name = "outgoing_mail"
        indexes = ((("sent_at", "attempts"), False),)


TABLES = [NoticePreference, OutgoingMail]


def up(migrator, db):
    db.bind(TABLES)
    db.create_tables(TABLES)


def down(migrator, db):
    migrator.migrate(migrator.drop_table("outgoing_mail"), migrator.drop_table("notice_preference"))
