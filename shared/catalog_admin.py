"""Operator changes to providers, models and routes beyond what `shared.catalog` adds.

Every change bumps the config version so data planes pick it up within a poll interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peewee import JOIN, Query

from shared.catalog import (
    MODALITIES,
    price_map,
    validate_capabilities,
    validate_meters,
    validate_price,
    validate_provider_fields,
)
from shared.config_version import bump_config_version
from shared.db import db
from shared.errors import InvalidInput, NotFound
from shared.models import CatalogModel, Group, Provider, Route
from shared.platforms import stored_platforms
from shared.pricing.versions import record_manual
from shared.settings import Secret
from shared.vault import decrypt, encrypt, mask


def provider_by_id(provider_id: int) -> Provider:
    """The provider with this id, or NotFound."""
    provider = Provider.get_or_none(Provider.id == provider_id)
    if provider is None:
        raise NotFound("provider", provider_id)
    return provider


def masked_key(provider: Provider, secret_key: Secret) -> str:
    """The provider's upstream key as its last four characters (the key itself is write-only)."""
    return mask(decrypt(provider.api_key_encrypted, secret_key))


def update_provider(
    provider: Provider,
    name: str,
    kind: str,
    base_url: str,
    timeout_s: float,
    enabled: bool,
    api_key: str | None,
    secret_key: Secret,
) -> Provider:
    """Save a provider's settings; `api_key` None (or empty) keeps the stored key."""
    url = validate_provider_fields(name, kind, base_url, timeout_s)
    taken = Provider.select().where((Provider.name == name) & (Provider.id != provider.id)).exists()
    if taken:
        raise InvalidInput("name", f"a provider called {name} already exists")
    changes = dict(name=name, kind=kind, base_url=url, timeout_s=timeout_s, enabled=enabled)
    if api_key:
        changes["api_key_encrypted"] = encrypt(api_key, secret_key)
    Provider.update(**changes).where(Provider.id == provider.id).execute()
    bump_config_version()
    return provider_by_id(provider.id)


def delete_provider(provider: Provider) -> None:
    """Remove a provider and its routes (usage records keep the provider's name as text)."""
    with db.atomic():
        Route.delete().where(Route.provider == provider.id).execute()
        Provider.delete().where(Provider.id == provider.id).execute()
    bump_config_version()


def model_by_id(model_id: int) -> CatalogModel:
    """The catalog model with this id, or NotFound."""
    model = CatalogModel.get_or_none(CatalogModel.id == model_id)
    if model is None:
        raise NotFound("model", model_id)
    return model


@dataclass(frozen=True)
class ModelPrices:
    """A model's sale prices (nano-USD per 1M tokens) and limits, as an operator edits them."""

    input_price: int
    output_price: int
    cached_input_price: int | None = None
    context_length: int | None = None
    modality: str = "chat"
    meters: dict[str, int] | None = None  # every other meter's price; None: keep the stored ones
    capabilities: list[str] | None = None  # None: keep the stored ones
    platforms: list[str] | None = None  # the platforms chosen (shared/platforms.py); None: keep them


def update_model(model: CatalogModel, prices: ModelPrices, enabled: bool, actor: str = "") -> CatalogModel:
    """Save a model's prices and whether customers can call it; a price move is a manual price version."""
    for field in ("input_price", "output_price", "cached_input_price"):
        validate_price(field, getattr(prices, field))
    if prices.modality not in MODALITIES:
        raise InvalidInput("modality", f"must be one of {', '.join(MODALITIES)}")
    if prices.context_length is not None and prices.context_length < 1:
        raise InvalidInput("context_length", "must be positive")
    if prices.meters is None:
        others = {k: v for k, v in model.prices.items() if k not in ("input", "output", "cached_input")}
    else:
        others = validate_meters("price", prices.meters)
    changes: dict = dict(
        prices=price_map(prices.input_price, prices.output_price, prices.cached_input_price, others),
        context_length=prices.context_length,
        modality=prices.modality,
        enabled=enabled,
    )
    if prices.capabilities is not None:
        changes["capabilities"] = validate_capabilities(prices.capabilities)
    if prices.platforms is not None:
        changes["platforms"] = stored_platforms(prices.platforms)
    with db.atomic():
        old = CatalogModel.get_by_id(model.id).prices
        CatalogModel.update(changes).where(CatalogModel.id == model.id).execute()
        record_manual(model, old, actor)
    bump_config_version()
    return model_by_id(model.id)


def set_model_platforms(model: CatalogModel, platforms: Sequence[str] | None) -> CatalogModel:
    """Offer a model on these platforms only (None: on every one); keys of the others stop seeing it."""
    stored = stored_platforms(platforms)
    CatalogModel.update(platforms=stored).where(CatalogModel.id == model.id).execute()
    bump_config_version()
    return model_by_id(model.id)


def set_route_enabled(route_id: int, enabled: bool) -> None:
    """Take a route out of (or back into) rotation."""
    if Route.update(enabled=enabled).where(Route.id == route_id).execute() != 1:
        raise NotFound("route", route_id)
    bump_config_version()


def delete_route(route_id: int) -> None:
    """Remove one way of serving a model."""
    if Route.delete().where(Route.id == route_id).execute() != 1:
        raise NotFound("route", route_id)
    bump_config_version()


def routes_query() -> Query:
    """Every route with its model and provider, for the price table (one query)."""
    return (
        Route.select(Route, CatalogModel, Provider)
        .join(CatalogModel)
        .switch(Route)
        .join(Provider)
        .order_by(CatalogModel.slug, Route.priority.desc(), Provider.name)
    )


def models_query(search: str = "") -> Query:
    """Every catalog model, by slug, optionally narrowed to slugs containing `search`."""
    query = CatalogModel.select().order_by(CatalogModel.slug)
    if search.strip():
        query = query.where(CatalogModel.slug.contains(search.strip()))
    return query


def visible_models(group: Group | None, search: str = "", modality: str = "") -> Query:
    """Enabled models a member of `group` may call (every enabled model for no group)."""
    query = (
        CatalogModel.select()
        .join(Route, JOIN.INNER, on=(Route.model == CatalogModel.id) & (Route.enabled == True))  # noqa: E712
        .where(CatalogModel.enabled == True)  # noqa: E712
        .distinct()
        .order_by(CatalogModel.slug)
    )
    if group is not None and group.allowed_models is not None:
        query = query.where(CatalogModel.slug.in_(group.allowed_models or [""]))
    if search.strip():
        query = query.where(CatalogModel.slug.contains(search.strip()))
    if modality:
        query = query.where(CatalogModel.modality == modality)
    return query
