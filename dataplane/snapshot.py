"""What the data plane keeps in memory: models, routes, providers, and API keys with their groups.

`load_snapshot` and `load_key` read the database and are synchronous: the gateway calls them
in its DB thread pool, never on the event loop. Provider keys are decrypted here, once per
load, never per request. A snapshot is immutable; a new one replaces it when the config
version moves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.db import MAX_IN_IDS, binary_chunks
from shared.models import ApiKey, CatalogModel, Group, Provider, Route, User
from shared.money import Prices
from shared.platforms import DEFAULT_PLATFORM, EVERY, offered_on
from shared.settings import Secret
from shared.utility_models import load_assigned
from shared.vault import VaultError, decrypt

log = logging.getLogger("tollgate.dataplane")


@dataclass(frozen=True)
class ProviderInfo:
    """An enabled upstream provider with its decrypted credential."""

    id: int
    name: str
    kind: str
    base_url: str
    api_key: str = field(repr=False)
    timeout_s: float


@dataclass(frozen=True)
class RouteInfo:
    """One way to serve a model, with what the provider charges us (by meter)."""

    id: int
    provider: ProviderInfo
    upstream_model: str
    priority: int
    weight: int
    costs: Prices


@dataclass(frozen=True)
class ModelInfo:
    """A catalog model, its sale prices and its enabled routes (highest priority first)."""

    id: int
    slug: str
    modality: str
    context_length: int | None
    max_output_tokens: int | None
    prices: Prices
    created: int
    routes: tuple[RouteInfo, ...]
    capabilities: tuple[str, ...] = ()
    platforms: frozenset[str] = EVERY  # the regional catalogues that offer it (shared/platforms.py)


@dataclass(frozen=True)
class GroupInfo:
    """A customer group's multiplier and model allow-list (None: all models)."""

    id: int
    multiplier_ppm: int
    allowed_models: frozenset[str] | None
    rpm_limit: int | None = None  # per member user
    tpm_limit: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything routing and pricing need, loaded at one config version."""

    version: int
    models: dict[str, ModelInfo]
    providers: tuple[ProviderInfo, ...]
    # The operator's model for each utility endpoint that has one (shared/utility_models.py).
    assigned: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyInfo:
    """An API key as the data plane needs it, with its owner's status and group."""

    id: int
    user_id: int
    user_status: str
    group: GroupInfo
    allowed_models: frozenset[str] | None
    spend_cap: int | None
    spent: int
    expires_at: dt.datetime | None
    revoked: bool
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    platform: str = DEFAULT_PLATFORM  # the only catalogue the key sees


def _allowed(models: list[str] | None) -> frozenset[str] | None:
    return frozenset(models) if models else None


def _providers(secret_key: Secret) -> dict[int, ProviderInfo]:
    providers = {}
    for p in Provider.select().where(Provider.enabled == True):  # noqa: E712
        try:
            api_key = decrypt(p.api_key_encrypted, secret_key)
        except VaultError as exc:
            # One unreadable credential must not take every other provider down with it.
            log.error("provider %s is skipped: %s", p.name, exc)
            continue
        providers[p.id] = ProviderInfo(p.id, p.name, p.kind, p.base_url.rstrip("/"), api_key, p.timeout_s)
    return providers


def _routes(providers: dict[int, ProviderInfo]) -> dict[int, list[RouteInfo]]:
    by_model: dict[int, list[RouteInfo]] = {}
    for r in Route.select().where(Route.enabled == True).order_by(Route.priority.desc(), Route.id):  # noqa: E712
        provider = providers.get(r.provider_id)
        if provider is None:
            continue
        costs = Prices.from_map(r.costs)
        info = RouteInfo(r.id, provider, r.upstream_model, r.priority, max(r.weight, 1), costs)
        by_model.setdefault(r.model_id, []).append(info)
    return by_model


def load_snapshot(version: int, secret_key: Secret) -> Snapshot:
    """Read models, routes, providers and groups (blocking; run it in a thread)."""
    providers = _providers(secret_key)
    routes = _routes(providers)
    models = {
        m.slug: ModelInfo(
            m.id,
            m.slug,
            m.modality,
            m.context_length,
            m.max_output_tokens,
            Prices.from_map(m.prices),
            int(m.created_at.replace(tzinfo=dt.UTC).timestamp()),
            tuple(routes.get(m.id, ())),
            tuple(m.capabilities or ()),
            offered_on(m.platforms),
        )
        for m in CatalogModel.select().where(CatalogModel.enabled == True)  # noqa: E712
    }
    return Snapshot(version, models, tuple(providers.values()), load_assigned())


def load_spent(key_ids: Sequence[int]) -> dict[int, int]:
    """What each of these keys has spent so far, as committed (blocking; run it in a thread)."""
    return {
        key_id: spent
        for chunk in binary_chunks(key_ids, MAX_IN_IDS)
        for key_id, spent in ApiKey.select(ApiKey.id, ApiKey.spent).where(ApiKey.id.in_(list(chunk))).tuples()
    }


def load_key(key_hash: str) -> KeyInfo | None:
    """The key with this hash and its owner (blocking; run it in a thread), or None."""
    row = ApiKey.select(ApiKey, User, Group).join(User).join(Group).where(ApiKey.key_hash == key_hash).first()
    if row is None:
        return None
    return KeyInfo(
        id=row.id,
        user_id=row.user_id,
        user_status=row.user.status,
        group=GroupInfo(
            row.user.group.id,
            row.user.group.multiplier_ppm,
            _allowed(row.user.group.allowed_models),
            row.user.group.rpm_limit,
            row.user.group.tpm_limit,
        ),
        allowed_models=_allowed(row.allowed_models),
        spend_cap=row.spend_cap,
        spent=row.spent,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        platform=row.platform,
    )
