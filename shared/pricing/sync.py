"""Plan and apply a price sync; approve or reject the changes it held.

A sync reads every source in the operator's order, matches each route's upstream model, sets
the route's costs and the model's sale prices (markup rules; pinned models keep theirs), and
records every applied change as a `PriceVersion`. A change that moves any sale price by more
than the threshold waits as a pending `PriceChange`. A source that cannot be read changes
nothing it would have priced: only sources ranked before the first failing one are used, so a
route never falls through to a lower-ranked source because a better one was down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from shared.config_version import bump_config_version
from shared.db import db
from shared.errors import InvalidInput, NotFound
from shared.models import CatalogModel, PriceChange, PriceVersion, Provider, Route, utcnow
from shared.pricing import settings, versions
from shared.pricing.listing import provider_tables
from shared.pricing.markup import Rules
from shared.pricing.matching import match
from shared.pricing.sources import FETCH_TIMEOUT_S, Meters, PriceTable, SourceError, SourceSpec, load
from shared.settings import Secret

Loaded = list[tuple[SourceSpec, PriceTable | SourceError]]


@dataclass
class Planned:
    """What a sync would do to one model."""

    model_id: int
    slug: str
    source: str
    old_prices: Meters
    prices: Meters  # equal to old_prices for a pinned model
    costs: dict[int, Meters]  # route id -> new costs (only the routes whose costs move)
    held: bool = False  # moves a sale price past the threshold: waits for approval
    change_id: int | None = None  # the pending change, once recorded

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.slug,
            "source": self.source,
            "old_prices": self.old_prices,
            "prices": self.prices,
            "costs": {str(k): v for k, v in self.costs.items()},
            "held": self.held,
            "change_id": self.change_id,
        }


@dataclass
class SyncResult:
    """A sync's outcome: the changes applied, those held, and each source's status."""

    applied: list[Planned] = field(default_factory=list)
    held: list[Planned] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # "slug via provider: upstream model"
    sources: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "applied": [p.to_json() for p in self.applied],
            "held": [p.to_json() for p in self.held],
            "unmatched": self.unmatched,
            "sources": self.sources,
        }


def moved_too_far(old: Meters, new: Meters, threshold_pct: Decimal) -> bool:
    """True when any meter priced before moves by more than `threshold_pct` percent."""
    return any(
        abs(Decimal(new[m] - old[m])) * 100 > threshold_pct * old[m]
        for m in new
        if m in old and old[m] > 0 and new[m] != old[m]
    )


def load_sources(specs: Sequence[SourceSpec], secret_key: Secret | None = None) -> Loaded:
    """Every source in order, each a table or its error; a `provider` source is one per provider."""
    loaded: Loaded = []
    with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as client:
        for spec in specs:
            if spec.kind == "provider":
                loaded += provider_tables(secret_key, client)
                continue
            try:
                loaded.append((spec, load(spec, client)))
            except SourceError as exc:
                loaded.append((spec, exc))
    return loaded


def usable(loaded: Loaded) -> list[PriceTable]:
    """The tables a sync may price from: those ranked before the first source that failed.

    A provider's failed listing stops only that provider's routes (a blocking table in its place).
    """
    tables: list[PriceTable] = []
    for spec, table in loaded:
        if isinstance(table, SourceError):
            if not spec.provider:
                break
            table = PriceTable(spec.name, {}, provider=spec.provider, blocked=True)
        tables.append(table)
    return tables


def _stamp(now: dt.datetime) -> str:
    return now.replace(microsecond=0).isoformat() + "Z"


def _source_status(loaded: Loaded, now: dt.datetime) -> list[dict[str, Any]]:
    previous = {s["name"]: s for s in settings.status().get("sources", [])}
    stamp = _stamp(now)
    rows = []
    for spec, table in loaded:
        row = dict(previous.get(spec.name, {"last_ok_at": None}), name=spec.name, at=stamp)
        if isinstance(table, SourceError):
            row.update(ok=False, error=str(table), error_at=stamp, note="")
        else:
            row.update(ok=True, error="", error_at=None, last_ok_at=stamp, note=table.note)
            row["entries"] = len(table.entries)
        rows.append(row)
    return rows


def _preview_status(loaded: Loaded) -> list[dict[str, Any]]:
    """What a dry run read from each source (the stored status stays as the last real sync left it)."""
    return [
        {
            "name": spec.name,
            "ok": not isinstance(table, SourceError),
            "error": str(table) if isinstance(table, SourceError) else "",
            "entries": 0 if isinstance(table, SourceError) else len(table.entries),
            "note": "" if isinstance(table, SourceError) else table.note,
        }
        for spec, table in loaded
    ]


def plan_model(
    model: CatalogModel,
    routes: Sequence[Route],
    tables: Sequence[PriceTable],
    rules: Rules,
    threshold: Decimal,
    unmatched: list[str],
) -> Planned | None:
    """The change a sync would make to one model (None when nothing moves)."""
    costs: dict[int, Meters] = {}
    sale: Meters = {}
    sources: list[str] = []
    for route in routes:
        provider = route.provider
        found = match(tables, route.upstream_model, provider.kind, route.price_match, provider.name)
        if found is None:
            unmatched.append(f"{model.slug} via {route.provider.name}: {route.upstream_model}")
            continue
        sources.append(found.source)
        new_costs = {**route.costs, **found.costs}
        if new_costs != route.costs:
            costs[route.id] = new_costs
        # Never below any route's cost: each meter sells at the dearest route's marked-up price.
        for meter, price in rules.for_route(model.slug, route.provider.name).prices(found.costs).items():
            sale[meter] = max(sale.get(meter, 0), price)
    old = dict(model.prices)
    prices = old if model.prices_pinned or not sale else {**old, **sale}
    if prices == old and not costs:
        return None
    source = ", ".join(dict.fromkeys(sources))
    return Planned(model.id, model.slug, source, old, prices, costs, moved_too_far(old, prices, threshold))


def plan(tables: Sequence[PriceTable], unmatched: list[str]) -> list[Planned]:
    """What a sync would change, model by model (routes read in one query)."""
    rules, threshold = settings.rules(), settings.threshold_pct()
    by_model: dict[int, list[Route]] = {}
    query = Route.select(Route, Provider).join(Provider).where(Route.enabled == True)  # noqa: E712
    for route in query.order_by(Route.id):
        by_model.setdefault(route.model_id, []).append(route)
    planned = []
    for model in CatalogModel.select().where(CatalogModel.id.in_(list(by_model))).order_by(CatalogModel.slug):
        change = plan_model(model, by_model[model.id], tables, rules, threshold, unmatched)
        if change is not None:
            planned.append(change)
    return planned


def apply(change: Planned, actor: str, now: dt.datetime) -> None:
    """Set the model's prices and its routes' costs and record the price version (in a transaction)."""
    CatalogModel.update(prices=change.prices).where(CatalogModel.id == change.model_id).execute()
    for route_id, costs in change.costs.items():
        Route.update(costs=costs).where(Route.id == route_id).execute()
    old, new = change.old_prices, change.prices
    versions.record(change.model_id, old, new, change.source, actor, change.costs, now)


def _hold(change: Planned, now: dt.datetime) -> None:
    """Record a pending change, replacing an older pending one for the same model."""
    pending = PriceChange.select().where(PriceChange.model == change.model_id, PriceChange.state == "pending")
    for old in pending:
        if old.prices == change.prices and old.costs == {str(k): v for k, v in change.costs.items()}:
            change.change_id = old.id
            return
        old.state, old.decided_at, old.decided_by = "superseded", now, "sync"
        old.save()
    change.change_id = PriceChange.create(
        model=change.model_id,
        old_prices=change.old_prices,
        prices=change.prices,
        costs={str(k): v for k, v in change.costs.items()},
        source=change.source,
        created_at=now,
    ).id


def sync(
    dry_run: bool = False, specs: Sequence[SourceSpec] | None = None, secret_key: Secret | None = None
) -> SyncResult:
    """Run one price sync (a dry run reads the sources and changes nothing, status included).

    `secret_key` opens the providers' keys for a `provider` source (without it that source fails).
    """
    now = utcnow()
    loaded = load_sources(settings.sources() if specs is None else specs, secret_key)
    result = SyncResult(dry_run=dry_run)
    planned = plan(usable(loaded), result.unmatched)
    result.applied = [p for p in planned if not p.held]
    result.held = [p for p in planned if p.held]
    if dry_run:
        result.sources = _preview_status(loaded)
        return result
    with db.atomic():
        for change in result.applied:
            apply(change, "sync", now)
        for change in result.held:
            _hold(change, now)
        result.sources = _source_status(loaded, now)
        settings.set_status({"last_sync_at": _stamp(now), "sources": result.sources})
    if result.applied:
        bump_config_version()
    return result


def pending() -> list[PriceChange]:
    """Changes waiting for the operator, oldest first."""
    return list(
        PriceChange.select(PriceChange, CatalogModel)
        .join(CatalogModel)
        .where(PriceChange.state == "pending")
        .order_by(PriceChange.id)
    )


def _pending_change(change_id: int) -> PriceChange:
    change = PriceChange.get_or_none(PriceChange.id == change_id)
    if change is None:
        raise NotFound("price change", change_id)
    if change.state != "pending":
        raise InvalidInput("change", f"change {change_id} is {change.state}, not pending")
    return change


def approve(change_id: int, actor: str) -> PriceChange:
    """Apply a held change as a new price version."""
    now = utcnow()
    with db.atomic():
        change = _pending_change(change_id)
        planned = Planned(
            change.model_id,
            "",
            change.source,
            change.old_prices,
            change.prices,
            {int(k): v for k, v in (change.costs or {}).items()},
        )
        apply(planned, actor, now)
        change.state, change.decided_at, change.decided_by = "applied", now, actor
        change.save()
    bump_config_version()
    return change


def reject(change_id: int, actor: str) -> PriceChange:
    """Drop a held change; the prices stay as they are."""
    with db.atomic():
        change = _pending_change(change_id)
        change.state, change.decided_at, change.decided_by = "rejected", utcnow(), actor
        change.save()
    return change


def pin(slug: str, pinned: bool = True) -> CatalogModel:
    """Keep (or stop keeping) a model's sale prices out of every sync."""
    if CatalogModel.update(prices_pinned=pinned).where(CatalogModel.slug == slug).execute() != 1:
        raise NotFound("model", slug)
    return CatalogModel.get(CatalogModel.slug == slug)


def pin_match(slug: str, entry: str | None, provider: str | None = None) -> int:
    """Price a model's routes (or those via one provider) from this source entry id; None: match again."""
    model = CatalogModel.get_or_none(CatalogModel.slug == slug)
    if model is None:
        raise NotFound("model", slug)
    query = Route.select(Route.id).join(Provider).where(Route.model == model.id)
    if provider:
        query = query.where(Provider.name == provider)
    ids = [r.id for r in query]
    if not ids:
        raise NotFound("route of model", slug)
    Route.update(price_match=entry or None).where(Route.id.in_(ids)).execute()
    return len(ids)


def set_route_match(route_id: int, entry: str | None) -> Route:
    """Price one route from this source entry id; None (or empty): match it again by name."""
    entry = (entry or "").strip() or None
    if entry is not None and len(entry) > 200:
        raise InvalidInput("price_match", "at most 200 characters")
    if Route.update(price_match=entry).where(Route.id == route_id).execute() != 1:
        raise NotFound("route", route_id)
    return Route.get_by_id(route_id)


def history(limit: int = 20) -> list[PriceVersion]:
    """The latest price versions, newest first."""
    return versions.history(limit)
