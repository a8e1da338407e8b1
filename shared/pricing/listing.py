"""A provider's own `/models` listing: the upstream models it serves and, where it says, their prices.

OpenRouter-style listings (`data[].pricing` in USD per token) price their models; OpenAI's and
Anthropic's list ids only, and Gemini's (`models[].name`) neither: those contribute no prices,
which is not an error. The listing is read with the provider's own key and headers, as the data
plane calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.models import Provider
from shared.pricing.sources import (
    OPENROUTER_FIELDS,
    Meters,
    PriceTable,
    SourceError,
    SourceSpec,
    convert,
    fetch_json,
)
from shared.provider_kinds import KINDS
from shared.settings import Secret
from shared.vault import VaultError, decrypt

MAX_LISTING_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Listed:
    """One upstream model in a provider's listing."""

    id: str
    name: str = ""
    context_length: int | None = None
    costs: Meters = field(default_factory=dict)  # what the listing says it costs (empty: not priced)


def listing_url(provider: Provider) -> str:
    """Where the provider lists its models: `/models` under its base URL."""
    return provider.base_url.rstrip("/") + "/models"


def _headers(provider: Provider, secret_key: Secret) -> dict[str, str]:
    kind = KINDS[provider.kind]
    try:
        key = decrypt(provider.api_key_encrypted, secret_key)
    except VaultError as exc:
        raise SourceError(f"{provider.name}: {exc}") from exc
    return {**kind.fixed_headers, **kind.auth_headers(key)}


def _context(row: dict[str, Any]) -> int | None:
    value = row.get("context_length", row.get("inputTokenLimit"))
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_listing(document: Any) -> list[Listed]:
    """The models of a listing in the OpenAI (`data[].id`) or Gemini (`models[].name`) shape."""
    rows = None
    if isinstance(document, dict):
        rows = document.get("data", document.get("models"))
    if not isinstance(rows, list):
        raise SourceError("the model listing has neither a `data` nor a `models` list")
    listed: dict[str, Listed] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        raw_id = row.get("id") if isinstance(row.get("id"), str) else row.get("name")
        if not isinstance(raw_id, str) or not raw_id.strip():
            continue
        model_id = raw_id.strip().removeprefix("models/")
        pricing = row.get("pricing")
        costs = convert(pricing, OPENROUTER_FIELDS) if isinstance(pricing, dict) else {}
        label = row.get("name") if isinstance(row.get("name"), str) and "id" in row else ""
        label = label or (row.get("displayName") if isinstance(row.get("displayName"), str) else "")
        listed.setdefault(model_id, Listed(model_id, label, _context(row), costs))
    return sorted(listed.values(), key=lambda m: m.id)


def fetch_listing(provider: Provider, secret_key: Secret, client: httpx.Client | None = None) -> list[Listed]:
    """The provider's listing, read with its key (SourceError when it cannot be read)."""
    url = listing_url(provider)
    timeout = httpx.Timeout(min(provider.timeout_s, MAX_LISTING_TIMEOUT_S), connect=5.0)
    headers = _headers(provider, secret_key)
    if client is None:
        with httpx.Client(timeout=timeout, follow_redirects=True) as own:
            document = fetch_json(url, own, headers)
    else:
        document = fetch_json(url, client, headers)
    return parse_listing(document)


def listing_table(provider: Provider, listed: Sequence[Listed]) -> PriceTable:
    """The priced models of a listing, as a table that prices only this provider's routes."""
    entries = {m.id: dict(m.costs) for m in listed if m.costs}
    return PriceTable(f"provider {provider.name}", entries, provider=provider.name)


def provider_tables(
    secret_key: Secret | None, client: httpx.Client
) -> list[tuple[SourceSpec, PriceTable | SourceError]]:
    """A `provider` source: every enabled provider's listing, each its own table or error."""
    results: list[tuple[SourceSpec, PriceTable | SourceError]] = []
    for provider in Provider.select().where(Provider.enabled == True).order_by(Provider.name):  # noqa: E712
        spec = SourceSpec("provider", provider=provider.name)
        if secret_key is None:
            results.append((spec, SourceError("the provider listings need the gateway's secret key")))
            continue
        try:
            results.append((spec, listing_table(provider, fetch_listing(provider, secret_key, client))))
        except SourceError as exc:
            # No listing at all (404) is a provider that lists nothing, not one that is down.
            unlisted = PriceTable(spec.name, {}, provider=provider.name, note="no model listing")
            results.append((spec, unlisted if exc.status == 404 else exc))
    return results
