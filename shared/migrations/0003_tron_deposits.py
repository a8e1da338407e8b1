"""USDT on TRON: deposit addresses, deposits, pending sightings, sweeps and the scanner lease."""

from peewee import *  # noqa: F403


class User(Model):
    class Meta:
        table_name = "users"


class TronAddress(Model):
    user = ForeignKeyField(User, null=True, unique=True, on_delete="RESTRICT")
    derivation_index = IntegerField(null=True, unique=True)
    address = CharField(unique=True, max_length=34)
    address_hex = CharField(unique=True, max_length=42)
    source = CharField(max_length=16, default="xpub")
    hot_until = DateTimeField(null=True)
    last_seen_ts = BigIntegerField(null=True)
    assigned_at = DateTimeField(null=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "tron_address"


class TronDeposit(Model):
    network = CharField(max_length=16)
    txid = CharField(max_length=64)
    log_index = IntegerField()
    block_number = BigIntegerField(default=0)
    block_ts_ms = BigIntegerField(default=0)
    token_contract = CharField(max_length=42)
    from_hex = CharField(max_length=42, default="")
    to_hex = CharField(max_length=42)
    user = ForeignKeyField(User, on_delete="RESTRICT")
    amount_micro = BigIntegerField(default=0)
    status = CharField(max_length=16)
    reason = TextField(default="")
    credited_units = BigIntegerField(null=True)
    rate = CharField(null=True, max_length=40)
    rate_source = CharField(null=True, max_length=64)
    found_by = CharField(max_length=16, default="scan")
    created_at = DateTimeField(index=True)

    class Meta:
        table_name = "tron_deposit"
        indexes = ((("network", "txid", "log_index"), True), (("user", "created_at"), False))


class TronPending(Model):
    txid = CharField(max_length=64)
    log_index = IntegerField()
    user = ForeignKeyField(User, on_delete="CASCADE")
    amount_micro = BigIntegerField()
    block_number = BigIntegerField()
    seen_at = DateTimeField()

    class Meta:
        table_name = "tron_pending"
        indexes = ((("txid", "log_index"), True),)


class TronSweep(Model):
    address = ForeignKeyField(TronAddress, on_delete="RESTRICT")
    kind = CharField(max_length=16, default="usdt")
    to_address = CharField(max_length=34)
    amount = BigIntegerField()
    txid = CharField(null=True, unique=True, max_length=64)
    status = CharField(max_length=16, default="signed")
    error = TextField(default="")
    fee_sun = BigIntegerField(default=0)
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        table_name = "tron_sweep"


class Lease(Model):
    name = CharField(primary_key=True, max_length=64)
    holder = CharField(max_length=100)
    expires_at = DateTimeField()

    class Meta:
        table_name = "tron_lease"


TABLES = [TronAddress, TronDeposit, TronPending, TronSweep, Lease]


def up(migrator, db):
    db.bind(TABLES)
    db.create_tables(TABLES)


def down(migrator, db):
    for table in ("tron_lease", "tron_sweep", "tron_pending", "tron_deposit", "tron_address"):
        migrator.migrate(migrator.drop_table(table))
