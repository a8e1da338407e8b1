"""`tollgate model ...`: add models with their prices and routes, list the catalog."""

from __future__ import annotations

from typing import Any

import click
from peewee import prefetch

from shared import catalog
from shared.models import CatalogModel, Provider, Route

from .runtime import amount, emit, json_option, opened_database, usd


def route_row(route: Route) -> dict[str, Any]:
    """One route of a model: where it goes and what it costs us (USD per 1M tokens)."""
    return {
        "provider": route.provider.name,
        "upstream_model": route.upstream_model,
        "priority": route.priority,
        "weight": route.weight,
        "enabled": route.enabled,
        "input_cost_usd": usd(route.input_cost),
        "output_cost_usd": usd(route.output_cost),
        "cached_input_cost_usd": usd(route.cached_input_cost),
    }


def model_row(model: CatalogModel, routes: list[Route]) -> dict[str, Any]:
    """A catalog model with its sale prices (USD per 1M tokens) and routes, highest priority first."""
    ordered = sorted(routes, key=lambda r: (-r.priority, r.id))
    return {
        "id": model.slug,
        "modality": model.modality,
        "context_length": model.context_length,
        "input_price_usd": usd(model.input_price),
        "output_price_usd": usd(model.output_price),
        "cached_input_price_usd": usd(model.cached_input_price),
        "enabled": model.enabled,
        "routes": [route_row(r) for r in ordered],
    }


def describe(row: dict[str, Any]) -> str:
    """A model and its routes as text."""
    head = (
        f"{row['id']}  {row['modality']}  in {row['input_price_usd']}  out {row['output_price_usd']}"
        f"  USD/1M  {'enabled' if row['enabled'] else 'disabled'}"
    )
    routes = [
        f"    -> {r['provider']}:{r['upstream_model']}  priority {r['priority']}  weight {r['weight']}"
        for r in row["routes"]
    ]
    return "\n".join([head, *routes])


def load_models(slug: str | None = None) -> list[dict[str, Any]]:
    """Catalog models (one, when `slug` is given) with their routes and providers, in two queries."""
    models = CatalogModel.select().order_by(CatalogModel.slug)
    if slug is not None:
        models = models.where(CatalogModel.slug == slug)
    loaded = prefetch(models, Route.select(), Provider.select())
    return [model_row(m, list(m.routes)) for m in loaded]


@click.group()
def model() -> None:
    """The model catalog: prices and routes."""


@model.command("add")
@click.argument("model_id")
@click.option("--provider", "provider_name", required=True, help="A provider added before.")
@click.option("--upstream-model", help="The model's name at the provider (default: MODEL_ID).")
@click.option("--priority", type=int, default=0, show_default=True, help="Higher is tried first.")
@click.option("--weight", type=int, default=1, show_default=True, help="Share of traffic within a priority.")
@click.option("--input-price", required=True, help="USD per 1M input tokens.")
@click.option("--output-price", required=True, help="USD per 1M output tokens.")
@click.option("--cached-input-price", help="USD per 1M cached input tokens (default: the input price).")
@click.option("--modality", type=click.Choice(catalog.MODALITIES), default="chat", show_default=True)
@click.option("--context-length", type=int, help="Tokens.")
@json_option
def add(
    model_id: str,
    provider_name: str,
    upstream_model: str | None,
    priority: int,
    weight: int,
    input_price: str,
    output_price: str,
    cached_input_price: str | None,
    modality: str,
    context_length: int | None,
    as_json: bool,
) -> None:
    """Add a model (or another route to it) with its sale prices."""
    prices = {
        "input_price": amount("--input-price", input_price),
        "output_price": amount("--output-price", output_price),
        "cached_input_price": amount("--cached-input-price", cached_input_price),
    }
    with opened_database():
        catalog.add_model_route(
            model_id,
            provider_name,
            **prices,
            upstream_model=upstream_model,
            priority=priority,
            weight=weight,
            modality=modality,
            context_length=context_length,
        )
        row = load_models(model_id)[0]
    emit(row, as_json, describe)


@model.command("list")
@json_option
def list_models(as_json: bool) -> None:
    """List the catalog with each model's routes."""
    with opened_database():
        rows = load_models()
    emit(rows, as_json, lambda r: "\n".join(describe(m) for m in r) or "no models")
