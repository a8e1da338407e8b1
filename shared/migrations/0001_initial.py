"""The initial schema: accounts, keys, providers, the model catalog, routes, holds, ledger, usage."""

from peewee import *  # noqa: F403


class Group(Model):
    name = CharField(unique=True, max_length=64)
    multiplier_ppm = BigIntegerField(default=1000000)
    allowed_models = TextField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "groups"


class User(Model):
    email = CharField(unique=True, max_length=254)
    password_hash = CharField(null=True)
    role = CharField(max_length=16, default="customer")
    group = ForeignKeyField(Group, on_delete="RESTRICT")
    status = CharField(max_length=16, default="active")
    balance = BigIntegerField(default=0)
    created_at = DateTimeField()
    last_login_at = DateTimeField(null=True)

    class Meta:
        table_name = "users"


class ApiKey(Model):
    user = ForeignKeyField(User, on_delete="CASCADE")
    name = CharField(max_length=100, default="")
    key_hash = CharField(unique=True, max_length=64)
    prefix = CharField(max_length=32)
    allowed_models = TextField(null=True)
    spend_cap = BigIntegerField(null=True)
    spent = BigIntegerField(default=0)
    expires_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "api_key"


class CatalogModel(Model):
    slug = CharField(unique=True, max_length=200)
    modality = CharField(max_length=16, default="chat")
    context_length = IntegerField(null=True)
    max_output_tokens = IntegerField(null=True)
    input_price = BigIntegerField(default=0)
    cached_input_price = BigIntegerField(null=True)
    output_price = BigIntegerField(default=0)
    enabled = BooleanField(default=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "model"


class Hold(Model):
    user = ForeignKeyField(User, on_delete="CASCADE")
    holder = CharField(max_length=100)
    amount = BigIntegerField(default=0)
    state = CharField(max_length=16, default="active")
    created_at = DateTimeField()
    expires_at = DateTimeField()
    closed_at = DateTimeField(null=True)

    class Meta:
        table_name = "hold"
        indexes = ((("state", "expires_at"), False),)


class KeyValue(Model):
    key = CharField(primary_key=True, max_length=100)
    value = TextField()

    class Meta:
        table_name = "kv"


class LedgerEntry(Model):
    user = ForeignKeyField(User, on_delete="CASCADE")
    kind = CharField(max_length=16)
    amount = BigIntegerField()
    ref = CharField(unique=True, max_length=200)
    reason = TextField(default="")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(index=True)

    class Meta:
        table_name = "ledger_entry"


class Provider(Model):
    name = CharField(unique=True, max_length=64)
    kind = CharField(max_length=32, default="openai")
    base_url = CharField(max_length=500)
    api_key_encrypted = TextField(default="")
    timeout_s = FloatField(default=60.0)
    enabled = BooleanField(default=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "provider"


class Route(Model):
    model = ForeignKeyField(CatalogModel, on_delete="CASCADE")
    provider = ForeignKeyField(Provider, on_delete="CASCADE")
    upstream_model = CharField(max_length=200)
    priority = IntegerField(default=0)
    weight = IntegerField(default=1)
    input_cost = BigIntegerField(default=0)
    cached_input_cost = BigIntegerField(null=True)
    output_cost = BigIntegerField(default=0)
    enabled = BooleanField(default=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "route"
        indexes = ((("model", "provider", "upstream_model"), True),)


class UsageRecord(Model):
    request_id = CharField(unique=True, max_length=64)
    client_request_id = CharField(null=True, max_length=200)
    user = ForeignKeyField(User, on_delete="CASCADE")
    api_key = ForeignKeyField(ApiKey, null=True, on_delete="SET NULL")
    model = CharField(max_length=200)
    provider = CharField(max_length=64, default="")
    upstream_model = CharField(max_length=200, default="")
    endpoint = CharField(max_length=32, default="chat")
    stream = BooleanField(default=False)
    status = CharField(max_length=16)
    http_status = IntegerField(default=200)
    prompt_tokens = IntegerField(default=0)
    cached_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    reasoning_tokens = IntegerField(default=0)
    usage_source = CharField(max_length=16, default="upstream")
    input_price = BigIntegerField(default=0)
    cached_input_price = BigIntegerField(default=0)
    output_price = BigIntegerField(default=0)
    multiplier_ppm = BigIntegerField(default=1000000)
    charge = BigIntegerField(default=0)
    cost = BigIntegerField(default=0)
    latency_ms = IntegerField(default=0)
    ttft_ms = IntegerField(null=True)
    error = TextField(default="")
    created_at = DateTimeField(index=True)

    class Meta:
        table_name = "usage_record"
        indexes = ((("user", "created_at"), False),)


TABLES = [Group, User, ApiKey, CatalogModel, Hold, KeyValue, LedgerEntry, Provider, Route, UsageRecord]


def up(migrator, db):
    db.bind(TABLES)
    db.create_tables(TABLES)


def down(migrator, db):
    migrator.migrate(migrator.drop_table("usage_record"))
    migrator.migrate(migrator.drop_table("route"))
    migrator.migrate(migrator.drop_table("provider"))
    migrator.migrate(migrator.drop_table("ledger_entry"))
    migrator.migrate(migrator.drop_table("kv"))
    migrator.migrate(migrator.drop_table("hold"))
    migrator.migrate(migrator.drop_table("model"))
    migrator.migrate(migrator.drop_table("api_key"))
    migrator.migrate(migrator.drop_table("users"))
    migrator.migrate(migrator.drop_table("groups"))
