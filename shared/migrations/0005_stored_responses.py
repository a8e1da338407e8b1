"""Stored Responses API responses, so `previous_response_id` and GET/DELETE work on every route."""

from peewee import *  # noqa: F403


class User(Model):
    class Meta:
        table_name = "users"


class ApiKey(Model):
    class Meta:
        table_name = "api_key"


class StoredResponse(Model):
    response_id = CharField(unique=True, max_length=64)
    user = ForeignKeyField(User, on_delete="CASCADE")
    api_key = ForeignKeyField(ApiKey, null=True, on_delete="SET NULL")
    model = CharField(max_length=200)
    previous_response_id = CharField(null=True, max_length=64)
    input_items = TextField()
    response = TextField()
    created_at = DateTimeField()
    expires_at = DateTimeField(index=True)

    class Meta:
        table_name = "stored_response"


def up(migrator, db):
    db.bind([StoredResponse])
    db.create_tables([StoredResponse])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("stored_response"))
