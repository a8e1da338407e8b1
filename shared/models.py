"""Tollgate's tables.

Money columns are BIGINT nano-USD (1 unit = 1e-9 USD). Prices are {meter: nano-USD per the
meter's price unit} maps (shared/meters.py: per 1M tokens, per image, per second, ...).
`User.balance` is a cache of Σ ledger − Σ active holds, changed only in the same transaction as
the ledger entry or hold that moves it (see shared/billing.py). Timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from shared.db import BaseModel, JSONField
from shared.money import Prices
from shared.platforms import DEFAULT_PLATFORM


def utcnow() -> dt.datetime:
    """Naive UTC now, the one clock every table uses."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class KeyValue(BaseModel):
    """Small key/value facts: config version, scanner cursors, operator-set options."""

    key = CharField(primary_key=True, max_length=100)
    value = TextField()

    class Meta:
        table_name = "kv"


class Group(BaseModel):
    """A customer group: a price multiplier and the models its members may call."""

    id = AutoField()
    name = CharField(unique=True, max_length=64)
    # Parts per million: 1_000_000 is ×1.0, 1_200_000 is ×1.2.
    multiplier_ppm = BigIntegerField(default=1_000_000)
    allowed_models = JSONField(null=True)  # None: every enabled model
    # Per member user (each user of the group has its own budget), per minute; None: unlimited.
    rpm_limit = BigIntegerField(null=True)
    tpm_limit = BigIntegerField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "groups"


class User(BaseModel):
    """A customer or an operator."""

    id = AutoField()
    email = CharField(unique=True, max_length=254)
    password_hash = CharField(null=True, max_length=255)
    role = CharField(default="customer", max_length=16)  # customer | operator
    group = ForeignKeyField(Group, backref="users", on_delete="RESTRICT")
    status = CharField(default="active", max_length=16)  # active | disabled
    balance = BigIntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)

    class Meta:
        table_name = "users"


class ApiKey(BaseModel):
    """A customer's API key; only the SHA-256 of the secret is kept."""

    id = AutoField()
    user = ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    name = CharField(default="", max_length=100)
    key_hash = CharField(unique=True, max_length=64)
    prefix = CharField(max_length=32)  # shown in lists, e.g. "sk-tg-Ab12…"
    allowed_models = JSONField(null=True)  # None: whatever the group allows
    spend_cap = BigIntegerField(null=True)
    spent = BigIntegerField(default=0)
    expires_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)
    # Per key, per minute (on top of the owner's group limits); None: unlimited.
    rpm_limit = BigIntegerField(null=True)
    tpm_limit = BigIntegerField(null=True)
    # The regional catalogue the key sees and calls (shared/platforms.py); set when it is created.
    platform = CharField(default=DEFAULT_PLATFORM, max_length=8)
    created_at = DateTimeField(default=utcnow)


class Provider(BaseModel):
    """An upstream API endpoint and its credential (encrypted at rest)."""

    id = AutoField()
    name = CharField(unique=True, max_length=64)
    kind = CharField(default="openai", max_length=32)  # openai | anthropic
    base_url = CharField(max_length=500)
    api_key_encrypted = TextField(default="")
    timeout_s = FloatField(default=60.0)
    enabled = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)


class CatalogModel(BaseModel):
    """A model customers can call, with its sale prices by meter."""

    id = AutoField()
    slug = CharField(unique=True, max_length=200)  # public id, e.g. "openai/gpt-4o-mini"
    # chat | embedding | image | transcription | speech | moderation | rerank (shared/catalog.py)
    modality = CharField(default="chat", max_length=16)
    context_length = IntegerField(null=True)
    max_output_tokens = IntegerField(null=True)
    prices = JSONField(default=dict)  # {meter: nano-USD per price unit}; unpriced meters fall back
    capabilities = JSONField(null=True)  # e.g. ["tools", "vision", "streaming"]; None: not stated
    enabled = BooleanField(default=True)
    prices_pinned = BooleanField(default=False)  # manual prices: a price sync never changes them
    platforms = JSONField(null=True)  # e.g. ["cn"]; None: offered on every platform (shared/platforms.py)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "model"

    @property
    def sale_prices(self) -> Prices:
        return Prices.from_map(self.prices)

    @property
    def input_price(self) -> int:
        return self.sale_prices.input

    @property
    def output_price(self) -> int:
        return self.sale_prices.output

    @property
    def cached_input_price(self) -> int | None:
        return self.sale_prices.cached_input


class Route(BaseModel):
    """One way to serve a model: a provider, its model name there, and what it costs us."""

    id = AutoField()
    model = ForeignKeyField(CatalogModel, backref="routes", on_delete="CASCADE")
    provider = ForeignKeyField(Provider, backref="routes", on_delete="CASCADE")
    upstream_model = CharField(max_length=200)
    priority = IntegerField(default=0)  # higher is tried first
    weight = IntegerField(default=1)  # share of traffic inside one priority tier
    costs = JSONField(default=dict)  # {meter: nano-USD per price unit}, what the provider charges us
    enabled = BooleanField(default=True)
    price_match = CharField(null=True, max_length=200)  # price-source entry pinned by the operator
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("model", "provider", "upstream_model"), True),)

    @property
    def cost_prices(self) -> Prices:
        return Prices.from_map(self.costs)

    @property
    def input_cost(self) -> int:
        return self.cost_prices.input

    @property
    def output_cost(self) -> int:
        return self.cost_prices.output

    @property
    def cached_input_cost(self) -> int | None:
        return self.cost_prices.cached_input


class Hold(BaseModel):
    """Balance set aside for requests in flight (a data-plane lease or a single request).

    While `state` is "active", `amount` is subtracted from the user's balance. A holder keeps
    `expires_at` in the future; the worker releases holds past it and marks them "expired".
    """

    id = AutoField()
    user = ForeignKeyField(User, backref="holds", on_delete="CASCADE")
    holder = CharField(max_length=100)  # process or request that owns it
    amount = BigIntegerField(default=0)
    state = CharField(default="active", max_length=16)  # active | released | expired
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    closed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("state", "expires_at"), False),)


class LedgerEntry(BaseModel):
    """One append-only change of a balance; `ref` makes each change happen at most once."""

    id = AutoField()
    user = ForeignKeyField(User, backref="ledger", on_delete="CASCADE")
    kind = CharField(max_length=16)  # deposit | charge | refund | adjustment | bonus
    amount = BigIntegerField()  # signed nano-USD
    ref = CharField(unique=True, max_length=200)  # e.g. "req:<id>", "adj:<uuid>", "tron:<net>:<tx>:<i>"
    reason = TextField(default="")
    actor = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)


class UsageRecord(BaseModel):
    """What one request used, what it cost us and what the customer paid."""

    id = AutoField()
    request_id = CharField(unique=True, max_length=64)
    client_request_id = CharField(null=True, max_length=200)
    user = ForeignKeyField(User, backref="usage", on_delete="CASCADE")
    api_key = ForeignKeyField(ApiKey, null=True, backref="usage", on_delete="SET NULL")
    model = CharField(max_length=200)  # the public slug the customer asked for
    provider = CharField(default="", max_length=64)
    upstream_model = CharField(default="", max_length=200)
    endpoint = CharField(default="chat", max_length=32)  # chat | embeddings
    stream = BooleanField(default=False)
    # ok | partial | error | unsettled (its process died mid-request: billed up to its last checkpoint)
    status = CharField(max_length=16)
    http_status = IntegerField(default=200)
    prompt_tokens = IntegerField(default=0)
    cached_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    reasoning_tokens = IntegerField(default=0)
    usage_source = CharField(default="upstream", max_length=16)  # upstream | counted | none
    input_price = BigIntegerField(default=0)
    cached_input_price = BigIntegerField(default=0)
    output_price = BigIntegerField(default=0)
    multiplier_ppm = BigIntegerField(default=1_000_000)
    # Every meter billed: {meter: [quantity, unit price]} (quantities in the meter's counted unit).
    meters = JSONField(null=True)
    charge = BigIntegerField(default=0)  # what the customer paid, nano-USD
    cost = BigIntegerField(default=0)  # what the provider charges us, nano-USD
    latency_ms = IntegerField(default=0)
    ttft_ms = IntegerField(null=True)
    error = TextField(default="")
    # How the charge was collected (shared/billing.py `settle`): `held` was set aside for the
    # request; `off_hold` came from the balance beyond the hold (usage above the hold, or a hold
    # lost while the request ran, then `hold_lost`); `shortfall` was priced but the balance could
    # not cover it, so it was not collected.
    held = BigIntegerField(default=0)
    off_hold = BigIntegerField(default=0)
    shortfall = BigIntegerField(default=0)
    hold_lost = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = (
            (("user", "created_at"), False),
            (("status", "created_at"), False),
        )


class StoredResponse(BaseModel):
    """A Responses API response the gateway delivered with `store`, kept for its owner until it expires."""

    id = AutoField()
    response_id = CharField(unique=True, max_length=64)
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    api_key = ForeignKeyField(ApiKey, null=True, backref="+", on_delete="SET NULL")
    model = CharField(max_length=200)
    previous_response_id = CharField(null=True, max_length=64)
    input_items = TextField()  # JSON: this request's own input items
    response = TextField()  # JSON: the response object as delivered
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)


class PriceVersion(BaseModel):
    """A model's sale prices (and its routes' costs) from `effective_at` on, as a price sync or the
    operator set them."""

    id = AutoField()
    model = ForeignKeyField(CatalogModel, backref="price_versions", on_delete="CASCADE")
    prices = JSONField(default=dict)  # {meter: nano-USD}
    old_prices = JSONField(null=True)  # the prices this version replaced (None: none were set)
    costs = JSONField(null=True)  # {route id: {meter: nano-USD}} when the costs moved too
    effective_at = DateTimeField(default=utcnow, index=True)
    source = CharField(default="", max_length=64)  # a source, "manual" or "import"
    actor = CharField(default="", max_length=254)  # "sync", or the operator who approved


class PriceChange(BaseModel):
    """A price a sync would set, waiting for the operator because it moves the sale price too far."""

    id = AutoField()
    model = ForeignKeyField(CatalogModel, backref="price_changes", on_delete="CASCADE")
    old_prices = JSONField(default=dict)
    prices = JSONField(default=dict)
    costs = JSONField(null=True)  # {route id: {meter: nano-USD}}
    source = CharField(default="", max_length=64)
    state = CharField(default="pending", max_length=16)  # pending | applied | rejected
    created_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)
    decided_by = CharField(default="", max_length=254)


ALL_MODELS: list[type[BaseModel]] = [
    KeyValue,
    Group,
    User,
    ApiKey,
    Provider,
    CatalogModel,
    Route,
    Hold,
    LedgerEntry,
    UsageRecord,
    StoredResponse,
    PriceVersion,
    PriceChange,
]
