"""The public catalogue: each model's facts (prices, limits, modalities, providers, health) and the
filters and sort orders of `/api/v1/models` and `/v1/models`.

Providers are shown by name only (never kind, base URL or key): the same names the public health
report (`/v1/health/providers`) already shows. Health is this process's view of the model's routes
(dataplane/health.py): `cooling` when no route may be tried now, `degraded` when some route is
cooling or failing recently, else `ok`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from dataplane.errors import bad_request
from dataplane.health import Health
from dataplane.health_report import DEGRADED_BELOW
from dataplane.snapshot import ModelInfo
from shared.catalog import CAPABILITIES, MODALITIES
from shared.model_facts import DEFAULT_ORDER, ORDERS, SORTS, io_modalities, split_values
from shared.money import AmountError, format_usd, parse_usd
from shared.platforms import PLATFORMS
from shared.price_sheet import price_sheet

RECENT_MINUTES = 5


@dataclass(frozen=True)
class Query:
    """A catalogue request's filters and sort order, checked."""

    modalities: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    text: str = ""
    max_price: int | None = None  # nano-USD per 1M input tokens
    sort: str = "slug"
    descending: bool = False


def _choices(params: QueryParams, name: str, allowed: Sequence[str] | None) -> tuple[str, ...]:
    values = split_values(params.getlist(name))
    unknown = [v for v in values if allowed is not None and v not in allowed]
    if unknown:
        raise bad_request(name, f"{name}: {unknown[0]!r} is not one of {', '.join(allowed or ())}.")
    return tuple(values)


def _max_price(params: QueryParams) -> int | None:
    text = (params.get("max_price") or "").strip()
    if not text:
        return None
    try:
        nano = parse_usd(text)
    except AmountError as exc:
        raise bad_request("max_price", f"max_price: USD per 1M input tokens, e.g. 2.5 ({exc}).") from exc
    if nano < 0:
        raise bad_request("max_price", "max_price: must not be negative.")
    return nano


def parse_query(params: QueryParams) -> Query:
    """The filters and sort of a catalogue request; 400 with `param` naming the first bad one."""
    sort = params.get("sort") or "slug"
    if sort not in SORTS:
        raise bad_request("sort", f"sort: must be one of {', '.join(SORTS)}.")
    order = params.get("order") or DEFAULT_ORDER[sort]
    if order not in ORDERS:
        raise bad_request("order", f"order: must be one of {', '.join(ORDERS)}.")
    return Query(
        modalities=_choices(params, "modality", MODALITIES),
        providers=_choices(params, "provider", None),
        capabilities=_choices(params, "capability", CAPABILITIES),
        text=(params.get("q") or "").strip().lower(),
        max_price=_max_price(params),
        sort=sort,
        descending=order == "desc",
    )


def providers_of(model: ModelInfo) -> list[str]:
    """The names of the providers of the model's enabled routes, once each, sorted."""
    return sorted({route.provider.name for route in model.routes})


def _matches(model: ModelInfo, query: Query) -> bool:
    return (
        (not query.modalities or model.modality in query.modalities)
        and (not query.providers or bool(set(query.providers) & set(providers_of(model))))
        and all(c in model.capabilities for c in query.capabilities)
        and (not query.text or query.text in model.slug.lower())
        and (query.max_price is None or model.prices.input <= query.max_price)
    )


SORT_KEYS: dict[str, Callable[[ModelInfo], Any]] = {
    "slug": lambda m: m.slug,
    "price": lambda m: (m.prices.input, m.prices.output, m.slug),
    "context": lambda m: (m.context_length or 0, m.slug),
    "newest": lambda m: (m.created, m.slug),
}


def select(models: Sequence[ModelInfo], query: Query) -> list[ModelInfo]:
    """The models that pass every filter, in the asked order."""
    chosen = [m for m in models if _matches(m, query)]
    return sorted(chosen, key=SORT_KEYS[query.sort], reverse=query.descending)


def model_health(model: ModelInfo, health: Health) -> str:
    """ok, degraded or cooling, from the cool-downs and the last minutes of the model's routes."""
    now = health.clock()
    ready = [route for route in model.routes if health.available(route, now)]
    if not ready:
        return "cooling"
    if len(ready) < len(model.routes):
        return "degraded"
    for route in model.routes:
        recent = health.window("route", route.id, RECENT_MINUTES)
        if recent.failures and (recent.requests - recent.failures) < DEGRADED_BELOW * max(recent.requests, 1):
            return "degraded"
    return "ok"


def model_object(model: ModelInfo, health: Health | None = None) -> dict[str, Any]:
    """The OpenAI Model object (id, object, created, owned_by) with Tollgate's public facts.

    `pricing` keeps the three token prices per 1M tokens; `prices` lists every meter the model is
    priced by as {meter, label, usd, per} (USD strings with 9 decimals, per the meter's unit).
    """
    owner = model.slug.split("/", 1)[0] if "/" in model.slug else "tollgate"
    prices = model.prices
    inputs, outputs = io_modalities(model.modality, model.capabilities)
    body = {
        "id": model.slug,
        "object": "model",
        "created": model.created,
        "owned_by": owner,
        "name": model.slug,
        "modality": model.modality,
        "input_modalities": inputs,
        "output_modalities": outputs,
        "capabilities": list(model.capabilities),
        "context_length": model.context_length,
        "max_output_tokens": model.max_output_tokens,
        "pricing": {
            "input_per_1m": format_usd(prices.input),
            "cached_input_per_1m": format_usd(prices.cached),
            "output_per_1m": format_usd(prices.output),
        },
        "prices": [p.as_json() for p in price_sheet(prices.to_map())],
        "providers": providers_of(model),
        "platforms": [p for p in PLATFORMS if p in model.platforms],
    }
    if health is not None:
        body["health"] = model_health(model, health)
    return body
