"""Import models from a provider's own listing: a model and a route for each upstream model picked.

Costs come from the listing's own prices, else from the configured price sources (as a sync would
match them); sale prices from the markup rules. A model no source prices is imported disabled and
flagged, never sold at zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from shared.catalog import SLUG_RE, add_model_route
from shared.db import db
from shared.errors import InvalidInput
from shared.models import CatalogModel, Provider, Route
from shared.pricing import settings
from shared.pricing.listing import Listed, fetch_listing, listing_table
from shared.pricing.matching import match
from shared.pricing.sources import Meters, PriceTable
from shared.pricing.sync import load_sources, usable
from shared.settings import Secret

IMPORT = "import"


@dataclass(frozen=True)
class Candidate:
    """One upstream model as an import would take it."""

    listed: Listed
    slug: str  # the public id it would get: "<provider>/<upstream id>"
    configured: bool  # the provider already has a route to it
    source: str  # where its costs come from ("" when nothing prices it)
    costs: Meters
    prices: Meters  # the sale prices the markup rule gives

    @property
    def priced(self) -> bool:
        return bool(self.costs)


@dataclass(frozen=True)
class Imported:
    """What an import did (or, in a dry run, would do) with one upstream model."""

    upstream_model: str
    slug: str
    state: str  # imported | no price (imported disabled) | already configured
    source: str
    prices: Meters

    def to_json(self) -> dict[str, object]:
        return {
            "upstream_model": self.upstream_model,
            "model": self.slug,
            "state": self.state,
            "source": self.source,
            "prices": self.prices,
        }


def default_slug(provider: Provider, upstream_id: str) -> str:
    return f"{provider.name}/{upstream_id}"


def _tables(provider: Provider, listed: Sequence[Listed], secret_key: Secret) -> list[PriceTable]:
    """The listing's own prices first, then the configured sources a sync would use."""
    others = [spec for spec in settings.sources() if spec.kind != "provider"]
    return [listing_table(provider, listed), *usable(load_sources(others, secret_key))]


def candidates(provider: Provider, secret_key: Secret, client: httpx.Client | None = None) -> list[Candidate]:
    """Every model in the provider's listing with its costs and sale prices (SourceError: no listing)."""
    listed = fetch_listing(provider, secret_key, client)
    tables = _tables(provider, listed, secret_key)
    rules = settings.rules()
    routed = {
        r.upstream_model.removeprefix("models/") for r in Route.select().where(Route.provider == provider.id)
    }
    found = []
    for item in listed:
        slug = default_slug(provider, item.id)
        priced = match(tables, item.id, provider.kind, None, provider.name)
        costs = dict(priced.costs) if priced else {}
        prices = rules.for_route(slug, provider.name).prices(costs)
        source = priced.source if priced else ""
        found.append(Candidate(item, slug, item.id in routed, source, costs, prices))
    return found


def _picked(found: Sequence[Candidate], ids: Sequence[str] | None) -> list[Candidate]:
    if ids is None:
        return [c for c in found if not c.configured]
    by_id = {c.listed.id: c for c in found}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InvalidInput("model", f"not in the provider's listing: {', '.join(unknown)}")
    return [by_id[i] for i in dict.fromkeys(ids)]


def _slug(candidate: Candidate, slugs: Mapping[str, str]) -> str:
    slug = (slugs.get(candidate.listed.id) or "").strip() or candidate.slug
    if not SLUG_RE.match(slug):
        raise InvalidInput("slug", f"not a valid model id: {slug!r}")
    return slug


def _create(provider: Provider, candidate: Candidate, slug: str, actor: str) -> None:
    """The model (unless it exists: it keeps its sale prices) and the route, in the caller's transaction."""
    existing = CatalogModel.get_or_none(CatalogModel.slug == slug)
    prices = dict(existing.prices) if existing else dict(candidate.prices)
    costs = dict(candidate.costs)
    sale = (prices.pop("input", 0), prices.pop("output", 0), prices.pop("cached_input", None))
    add_model_route(
        slug, provider.name, *sale,
        upstream_model=candidate.listed.id,
        modality=existing.modality if existing else "chat",
        context_length=candidate.listed.context_length,
        costs=(costs.pop("input", 0), costs.pop("output", 0), costs.pop("cached_input", None)),
        meters=prices, cost_meters=costs, actor=actor, price_source=candidate.source or IMPORT,
    )  # fmt: skip
    if not candidate.priced and existing is None:
        CatalogModel.update(enabled=False).where(CatalogModel.slug == slug).execute()


def import_models(
    provider: Provider,
    secret_key: Secret,
    ids: Sequence[str] | None = None,
    slugs: Mapping[str, str] | None = None,
    dry_run: bool = False,
    actor: str = "",
) -> list[Imported]:
    """Add a model and a route for each picked upstream model (`ids` None: every one not yet routed).

    `slugs` renames some ({upstream id: public id}); all or nothing, in one transaction.
    """
    picked = _picked(candidates(provider, secret_key), ids)
    plans = [(c, _slug(c, slugs or {})) for c in picked]
    done = [
        Imported(
            c.listed.id,
            slug,
            "already configured"
            if c.configured
            else ("imported" if c.priced else "no price (imported disabled)"),
            c.source,
            c.prices,
        )
        for c, slug in plans
    ]
    if dry_run:
        return done
    with db.atomic():
        for candidate, slug in plans:
            if not candidate.configured:
                _create(provider, candidate, slug, actor)
    return done
