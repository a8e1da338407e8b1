"""`tollgate model ...`: add models with their prices (by meter) and routes, limit them to platforms,
list and show the catalog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from peewee import prefetch

from shared import catalog
from shared.catalog_admin import set_model_platforms
from shared.models import CatalogModel, Provider, Route
from shared.platforms import PLATFORMS, offered_on, parse_platforms
from shared.price_sheet import MeterPriceError, meter_help, parse_entries, price_sheet

from .runtime import amount, emit, json_option, opened_database, usd

METERS_HELP = f"repeatable; {meter_help()}."


def route_row(route: Route) -> dict[str, Any]:
    """One route of a model: where it goes and what it costs us (per each meter's price unit)."""
    return {
        "provider": route.provider.name,
        "upstream_model": route.upstream_model,
        "priority": route.priority,
        "weight": route.weight,
        "enabled": route.enabled,
        "input_cost_usd": usd(route.input_cost),
        "output_cost_usd": usd(route.output_cost),
        "cached_input_cost_usd": usd(route.cached_input_cost),
        "costs": [p.as_json() for p in price_sheet(route.costs or {})],
    }


def model_row(model: CatalogModel, routes: list[Route]) -> dict[str, Any]:
    """A catalog model with its sale prices by meter and its routes, highest priority first."""
    ordered = sorted(routes, key=lambda r: (-r.priority, r.id))
    return {
        "id": model.slug,
        "modality": model.modality,
        "context_length": model.context_length,
        "input_price_usd": usd(model.input_price),
        "output_price_usd": usd(model.output_price),
        "cached_input_price_usd": usd(model.cached_input_price),
        "prices": [p.as_json() for p in price_sheet(model.prices or {})],
        "capabilities": model.capabilities,
        "platforms": [p for p in PLATFORMS if p in offered_on(model.platforms)],
        "enabled": model.enabled,
        "routes": [route_row(r) for r in ordered],
    }


def describe(row: dict[str, Any]) -> str:
    """A model, its price per meter and its routes as text."""
    head = f"{row['id']}  {row['modality']}  {'enabled' if row['enabled'] else 'disabled'}"
    if row["capabilities"]:
        head += f"  capabilities: {', '.join(row['capabilities'])}"
    if len(row["platforms"]) < len(PLATFORMS):
        head += f"  platforms: {', '.join(row['platforms'])}"
    width = max((len(p["label"]) for p in row["prices"]), default=0)
    prices = [f"    {p['label'].ljust(width)}  {p['usd']} USD / {p['per']}" for p in row["prices"]]
    routes = [
        f"    -> {r['provider']}:{r['upstream_model']}  priority {r['priority']}  weight {r['weight']}"
        for r in row["routes"]
    ]
    return "\n".join([head, *prices, *routes])


def load_models(slug: str | None = None) -> list[dict[str, Any]]:
    """Catalog models (one, when `slug` is given) with their routes and providers, in two queries."""
    models = CatalogModel.select().order_by(CatalogModel.slug)
    if slug is not None:
        models = models.where(CatalogModel.slug == slug)
    loaded = prefetch(models, Route.select(), Provider.select())
    return [model_row(m, list(m.routes)) for m in loaded]


def meter_prices(option: str, entries: Sequence[str]) -> dict[str, int]:
    """The {meter: nano-USD} of repeated `METER=USD` options, or a one-line error naming `option`."""
    try:
        return parse_entries(entries)
    except MeterPriceError as exc:
        raise click.ClickException(f"{option}: {exc}") from exc


def token_price(option: str, text: str | None, meters: dict[str, int], meter: str) -> int | None:
    """A token price given by its own option or as `--price METER=…`, not both."""
    if text is not None and meter in meters:
        raise click.ClickException(f"{option}: also given as --price {meter}=…; give it once")
    return amount(option, text) if text is not None else meters.pop(meter, None)


def capability_list(values: Sequence[str]) -> list[str] | None:
    """`--capability tools --capability vision,streaming` as a list (None: none given, keep them)."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.group()
def model() -> None:
    """The model catalog: prices and routes."""


@model.command("add")
@click.argument("model_id")
@click.option("--provider", "provider_name", required=True, help="A provider added before.")
@click.option("--upstream-model", help="The model's name at the provider (default: MODEL_ID).")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher is tried first.")
@click.option("--weight", type=int, default=1, show_default=True, help="Share of traffic within a priority.")
@click.option("--input-price", help="USD per 1M input tokens (required unless --price is given).")
@click.option("--output-price", help="USD per 1M output tokens (required unless --price is given).")
@click.option("--cached-input-price", help="USD per 1M cached input tokens (default: the input price).")
@click.option(
    "--price", "prices", multiple=True, metavar="METER=USD", help="Sale price of a meter: " + METERS_HELP
)
@click.option(
    "--cost",
    "costs",
    multiple=True,
    metavar="METER=USD",
    help="The provider's price of a meter (default: the sale price).",
)
@click.option("--modality", type=click.Choice(catalog.MODALITIES), default="chat", show_default=True)
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    help=f"Repeatable or comma-separated: {', '.join(catalog.CAPABILITIES)} (default: keep the stored ones).",
)
@click.option("--context-length", type=int, help="Tokens.")
@json_option
def add(
    model_id: str,
    provider_name: str,
    upstream_model: str | None,
    priority: int,
    weight: int,
    input_price: str | None,
    output_price: str | None,
    cached_input_price: str | None,
    prices: tuple[str, ...],
    costs: tuple[str, ...],
    modality: str,
    capabilities: tuple[str, ...],
    context_length: int | None,
    as_json: bool,
) -> None:
    """Add a model (or another route to it) with its sale prices."""
    meters = meter_prices("--price", prices)
    cost_meters = meter_prices("--cost", costs)
    for option, text in (("--input-price", input_price), ("--output-price", output_price)):
        if text is None and not meters:
            raise click.ClickException(f"{option}: required (or price the model with --price METER=USD)")
    sale_input = token_price("--input-price", input_price, meters, "input") or 0
    sale_output = token_price("--output-price", output_price, meters, "output") or 0
    sale_cached = token_price("--cached-input-price", cached_input_price, meters, "cached_input")
    with opened_database():
        catalog.add_model_route(
            model_id,
            provider_name,
            sale_input,
            sale_output,
            sale_cached,
            upstream_model=upstream_model,
            priority=priority,
            weight=weight,
            modality=modality,
            context_length=context_length,
            meters=meters,
            # Each meter costs what it sells for unless --cost says otherwise.
            cost_meters={**meters, **cost_meters} if cost_meters else None,
            capabilities=capability_list(capabilities),
            actor="cli",
        )
        row = load_models(model_id)[0]
    emit(row, as_json, describe)


@model.command("platforms")
@click.argument("model_id")
@click.argument("platforms")
@json_option
def platforms(model_id: str, platforms: str, as_json: bool) -> None:
    """Offer a model only on PLATFORMS (comma-separated: intl, cn; or "all"); effective within seconds."""
    with opened_database():
        set_model_platforms(catalog.get_model(model_id), parse_platforms(platforms))
        row = load_models(model_id)[0]
    emit(row, as_json, describe)


@model.command("list")
@json_option
def list_models(as_json: bool) -> None:
    """List the catalog with each model's prices and routes."""
    with opened_database():
        rows = load_models()
    emit(rows, as_json, lambda r: "\n".join(describe(m) for m in r) or "no models")


@model.command("show")
@click.argument("model_id")
@json_option
def show(model_id: str, as_json: bool) -> None:
    """One model: its price per meter, capabilities and routes."""
    with opened_database():
        catalog.get_model(model_id)
        row = load_models(model_id)[0]
    emit(row, as_json, describe)
