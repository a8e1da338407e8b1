"""Providers, models and routes: the operations the console and the CLI share."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlparse

from shared.config_version import bump_config_version
from shared.db import db
from shared.errors import InvalidInput, NotFound
from shared.meters import UnknownMeter, meter_of
from shared.models import CatalogModel, Provider, Route
from shared.money import MAX_NANO
from shared.pricing.versions import MANUAL, record_manual
from shared.provider_kinds import KIND_NAMES
from shared.settings import Secret
from shared.vault import encrypt

PROVIDER_KINDS = KIND_NAMES
MODALITIES = ("chat", "embedding", "image", "transcription", "speech", "moderation", "rerank")
CAPABILITIES = ("tools", "vision", "reasoning", "json_schema", "streaming")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


def validate_base_url(url: str) -> str:
    """An http(s) URL with a host, without a trailing slash."""
    value = (url or "").strip().rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInput("base_url", f"must be an http:// or https:// URL with a host, got {url!r}")
    return value


def validate_price(field: str, nano: int | None) -> int | None:
    """Prices are non-negative integers (nano-USD per the meter's price unit)."""
    if nano is not None and nano < 0:
        raise InvalidInput(field, "must not be negative")
    if nano is not None and nano > MAX_NANO:
        raise InvalidInput(field, "is too large")
    return nano


def validate_meters(field: str, prices: Mapping[str, int] | None) -> dict[str, int]:
    """A {meter: price} map with known meter names and valid prices."""
    checked: dict[str, int] = {}
    for name, nano in (prices or {}).items():
        try:
            meter_of(name)
        except UnknownMeter as exc:
            raise InvalidInput(field, str(exc)) from exc
        validate_price(f"{field} {name}", nano)
        checked[name] = nano
    return checked


def validate_capabilities(values: Sequence[str] | None) -> list[str] | None:
    """Known capability names, deduplicated in the catalogue's order (None: not stated)."""
    if values is None:
        return None
    unknown = sorted(set(values) - set(CAPABILITIES))
    if unknown:
        raise InvalidInput("capabilities", f"unknown {', '.join(unknown)}; one of {', '.join(CAPABILITIES)}")
    return [c for c in CAPABILITIES if c in values]


def price_map(
    input_price: int, output_price: int, cached_input_price: int | None, meters: Mapping[str, int]
) -> dict:
    """The stored {meter: price} map of token prices plus any other meters."""
    prices = {"input": input_price, "output": output_price}
    if cached_input_price is not None:
        prices["cached_input"] = cached_input_price
    prices.update(meters)
    return prices


def validate_provider_fields(name: str, kind: str, base_url: str, timeout_s: float) -> str:
    """Check a provider's name, kind, timeout and URL; returns the normalised URL."""
    if not NAME_RE.match(name or ""):
        raise InvalidInput("name", "use letters, digits, '.', '_' or '-' (at most 64)")
    if kind not in PROVIDER_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(PROVIDER_KINDS)}")
    if not 0 < timeout_s <= 3600:
        raise InvalidInput("timeout", "must be between 0 and 3600 seconds")
    return validate_base_url(base_url)


def add_provider(
    name: str, base_url: str, api_key: str, secret_key: Secret, kind: str = "openai", timeout_s: float = 60.0
) -> Provider:
    """Register an upstream provider; its key is stored encrypted."""
    url = validate_provider_fields(name, kind, base_url, timeout_s)
    if Provider.select().where(Provider.name == name).exists():
        raise InvalidInput("name", f"a provider called {name} already exists")
    provider = Provider.create(
        name=name,
        kind=kind,
        base_url=url,
        api_key_encrypted=encrypt(api_key or "", secret_key),
        timeout_s=timeout_s,
    )
    bump_config_version()
    return provider


def get_provider(name: str) -> Provider:
    """The provider called `name`, or NotFound."""
    provider = Provider.get_or_none(Provider.name == name)
    if provider is None:
        raise NotFound("provider", name)
    return provider


def add_model_route(
    slug: str,
    provider_name: str,
    input_price: int,
    output_price: int,
    cached_input_price: int | None = None,
    upstream_model: str | None = None,
    priority: int = 0,
    weight: int = 1,
    modality: str = "chat",
    context_length: int | None = None,
    costs: tuple[int, int, int | None] | None = None,
    meters: Mapping[str, int] | None = None,
    cost_meters: Mapping[str, int] | None = None,
    capabilities: Sequence[str] | None = None,
    actor: str = "",
    price_source: str = MANUAL,
) -> Route:
    """Add a model (or update its prices) and a route to it through `provider_name`.

    Adding an existing model with another provider adds a route; the prices given become the
    model's sale prices: the token prices, plus `meters` for any other meter ({"image": …}).
    `costs` (input, output, cached input) and `cost_meters` are the provider's own prices; both
    default to the sale prices. New or moved sale prices are recorded as a manual price version.
    """
    if not SLUG_RE.match(slug or ""):
        raise InvalidInput("model", f"not a valid model id: {slug!r}")
    if modality not in MODALITIES:
        raise InvalidInput("modality", f"must be one of {', '.join(MODALITIES)}")
    for field, value in (
        ("input_price", input_price),
        ("output_price", output_price),
        ("cached_input_price", cached_input_price),
    ):
        validate_price(field, value)
    extra = validate_meters("price", meters)
    capabilities = validate_capabilities(capabilities)
    if weight < 1:
        raise InvalidInput("weight", "must be at least 1")
    if context_length is not None and context_length < 1:
        raise InvalidInput("context_length", "must be positive")
    provider = get_provider(provider_name)
    sale = price_map(input_price, output_price, cached_input_price, extra)
    input_cost, output_cost, cached_cost = costs or (input_price, output_price, cached_input_price)
    cost = price_map(input_cost, output_cost, cached_cost, extra if cost_meters is None else {})
    cost.update(validate_meters("cost", cost_meters))
    with db.atomic():
        model = CatalogModel.get_or_none(CatalogModel.slug == slug)
        fields: dict = dict(prices=sale, modality=modality)
        if context_length is not None:
            fields["context_length"] = context_length
        if capabilities is not None:
            fields["capabilities"] = capabilities
        old = None if model is None else dict(model.prices)
        if model is None:
            model = CatalogModel.create(slug=slug, **fields)
        else:
            CatalogModel.update(**fields).where(CatalogModel.id == model.id).execute()
        record_manual(model, old, actor, price_source)
        target = upstream_model or slug
        route = Route.get_or_none(
            (Route.model == model) & (Route.provider == provider) & (Route.upstream_model == target)
        )
        values = dict(priority=priority, weight=weight, costs=cost, enabled=True)
        if route is None:
            route = Route.create(model=model, provider=provider, upstream_model=target, **values)
        else:
            Route.update(**values).where(Route.id == route.id).execute()
    bump_config_version()
    return route


def get_model(slug: str) -> CatalogModel:
    """The catalog model with this public id, or NotFound."""
    model = CatalogModel.get_or_none(CatalogModel.slug == slug)
    if model is None:
        raise NotFound("model", slug)
    return model
