"""The TRON deposit tables (migration 0003).

Amounts on chain are integer micro-USDT; `credited_units` is nano-USD, computed once when a
deposit row is inserted, with the rate that was used stored beside it.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from shared.db import BaseModel
from shared.models import User, utcnow


class TronAddress(BaseModel):
    """A watch-only deposit address: derived from the xpub, or imported (then assigned later)."""

    id = AutoField()
    user = ForeignKeyField(User, null=True, unique=True, backref="+", on_delete="RESTRICT")
    derivation_index = IntegerField(null=True, unique=True)  # m/44'/195'/0'/0/{index}; None if imported
    address = CharField(unique=True, max_length=34)  # base58 T…
    address_hex = CharField(unique=True, max_length=42)  # "41" + 40 hex
    source = CharField(default="xpub", max_length=16)  # xpub | import
    hot_until = DateTimeField(null=True)  # watched closely (Deposit tab open, "I've paid") until then
    last_seen_ts = BigIntegerField(null=True)  # TronGrid v1 cursor, ms
    assigned_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "tron_address"


class TronDeposit(BaseModel):
    """One Transfer log to one of our addresses, decided once: credited, below minimum, rejected…"""

    id = AutoField()
    network = CharField(max_length=16)
    txid = CharField(max_length=64)
    log_index = IntegerField()
    block_number = BigIntegerField(default=0)
    block_ts_ms = BigIntegerField(default=0)
    token_contract = CharField(max_length=42)  # hex "41…"
    from_hex = CharField(default="", max_length=42)
    to_hex = CharField(max_length=42)
    user = ForeignKeyField(User, backref="+", on_delete="RESTRICT")
    amount_micro = BigIntegerField(default=0)
    status = CharField(max_length=16)  # credited | below_minimum | rejected | manual_review
    reason = TextField(default="")
    credited_units = BigIntegerField(null=True)
    rate = CharField(null=True, max_length=40)  # USD per USDT, decimal string
    rate_source = CharField(null=True, max_length=64)
    found_by = CharField(default="scan", max_length=16)  # scan | claim | trongrid | logs
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "tron_deposit"
        indexes = ((("network", "txid", "log_index"), True), (("user", "created_at"), False))


class TronPending(BaseModel):
    """A transfer seen in a block that is not solid yet: shown to the user, never credited."""

    id = AutoField()
    txid = CharField(max_length=64)
    log_index = IntegerField()
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    amount_micro = BigIntegerField()
    block_number = BigIntegerField()
    seen_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "tron_pending"
        indexes = ((("txid", "log_index"), True),)


class TronSweep(BaseModel):
    """One move of USDT from a deposit address to the treasury (never touches user balances)."""

    id = AutoField()
    address = ForeignKeyField(TronAddress, backref="sweeps", on_delete="RESTRICT")
    kind = CharField(default="usdt", max_length=16)  # usdt | trx_topup
    to_address = CharField(max_length=34)
    amount = BigIntegerField()  # micro-USDT, or sun for a TRX top-up
    txid = CharField(null=True, unique=True, max_length=64)
    status = CharField(default="signed", max_length=16)  # signed | broadcast | confirmed | failed
    error = TextField(default="")
    fee_sun = BigIntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "tron_sweep"


class Lease(BaseModel):
    """A named lease so that one process at a time runs a job (e.g. the deposit scanner)."""

    name = CharField(primary_key=True, max_length=64)
    holder = CharField(max_length=100)
    expires_at = DateTimeField()

    class Meta:
        table_name = "tron_lease"


TRON_MODELS: list[type[BaseModel]] = [TronAddress, TronDeposit, TronPending, TronSweep, Lease]
