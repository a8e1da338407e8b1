"""Manual price versions, a provider's own listing as a price source, the genai-prices refresh and
importing models from a provider's listing, against real feed servers on loopback.

Prices are worked out by hand: USD per token × 1M tokens × 1e9 nano-USD, then the markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from shared import catalog
from shared.catalog_admin import ModelPrices, update_model
from shared.errors import InvalidInput
from shared.models import CatalogModel, PriceVersion, Route
from shared.pricing import imports, versions
from shared.pricing import settings as price_settings
from shared.pricing import sync as price_sync
from shared.pricing.markup import Rule, Rules
from shared.pricing.sources import SourceSpec, refreshed_genai_prices
from shared.settings import Settings
from tests.support.price_feeds import FakeFeeds
from tests.support.servers import ServerThread

LISTING = {
    "data": [
        {"id": "acme/fast", "name": "Acme Fast", "context_length": 32000,
         "pricing": {"prompt": "0.0000002", "completion": "0.0000008"}},
        {"id": "acme/mystery"},  # listed without a price
    ]
}  # fmt: skip
KEY = "sk-listing-key"


@pytest.fixture(scope="module")
def feed_server() -> Iterator[tuple[FakeFeeds, ServerThread]]:
    fake = FakeFeeds()
    with ServerThread(fake.app()) as server:
        yield fake, server


@pytest.fixture
def feeds(feed_server: tuple[FakeFeeds, ServerThread]) -> FakeFeeds:
    fake, server = feed_server
    fake.documents.clear()
    fake.failing.clear()
    fake.keys.clear()
    fake.url = server.url  # type: ignore[attr-defined]
    fake.documents["/or/v1/models"] = LISTING
    fake.documents["/plain/v1/models"] = {"data": [{"id": "gpt-4o-mini", "object": "model"}]}
    return fake


def add_providers(feeds: FakeFeeds, settings: Settings) -> None:
    base = feeds.url  # type: ignore[attr-defined]
    catalog.add_provider("or", base + "/or/v1", KEY, settings.secret_key)
    catalog.add_provider("plain", base + "/plain/v1", "sk-plain", settings.secret_key)


def versions_of(slug: str) -> list[PriceVersion]:
    model = CatalogModel.get(CatalogModel.slug == slug)
    return list(PriceVersion.select().where(PriceVersion.model == model.id).order_by(PriceVersion.id))


def test_hand_edits_record_manual_versions_with_the_prices_they_replaced(settings: Settings) -> None:
    catalog.add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    catalog.add_model_route("chat", "up", 1_000_000_000, 2_000_000_000, actor="cli")
    model = CatalogModel.get(CatalogModel.slug == "chat")

    update_model(model, ModelPrices(1_500_000_000, 2_000_000_000), True, actor="op@example.com")
    update_model(model, ModelPrices(1_500_000_000, 2_000_000_000), False, actor="op@example.com")  # no move
    catalog.add_model_route("chat", "up", 1_500_000_000, 3_000_000_000, actor="cli")

    rows = [(v.source, v.actor, v.old_prices, v.prices) for v in versions_of("chat")]
    assert rows == [
        ("manual", "cli", None, {"input": 1_000_000_000, "output": 2_000_000_000}),
        ("manual", "op@example.com", {"input": 1_000_000_000, "output": 2_000_000_000},
         {"input": 1_500_000_000, "output": 2_000_000_000}),
        ("manual", "cli", {"input": 1_500_000_000, "output": 2_000_000_000},
         {"input": 1_500_000_000, "output": 3_000_000_000}),
    ]  # fmt: skip
    assert versions.last_changed([model.id])[model.id] == versions_of("chat")[-1].effective_at
    moved = versions.moves(rows[2][2], rows[2][3])
    assert [(m.meter, m.pct) for m in moved] == [("input", Decimal("0.0")), ("output", Decimal("50.0"))]


def test_a_provider_listing_prices_only_that_providers_routes(feeds: FakeFeeds, settings: Settings) -> None:
    add_providers(feeds, settings)
    catalog.add_model_route("fast", "or", 0, 0, upstream_model="acme/fast")
    catalog.add_model_route("mini", "plain", 0, 0, upstream_model="gpt-4o-mini")
    price_settings.set_sources([SourceSpec("provider")])
    price_settings.set_rules(Rules(Rule(Decimal(10))))

    result = price_sync.sync(secret_key=settings.secret_key)

    assert [c.slug for c in result.applied] == ["fast"]
    assert CatalogModel.get(CatalogModel.slug == "fast").prices == {
        "input": 220_000_000,
        "output": 880_000_000,
    }
    # The listing that carries no prices contributes nothing, and that is no error.
    assert {s["name"]: (s["ok"], s["entries"]) for s in result.sources} == {
        "provider or": (True, 1),
        "provider plain": (True, 0),
    }
    assert "mini via plain: gpt-4o-mini" in result.unmatched
    assert f"Bearer {KEY}" in feeds.keys and "Bearer sk-plain" in feeds.keys


def test_a_failed_listing_keeps_lower_sources_off_its_routes_only(
    feeds: FakeFeeds, settings: Settings
) -> None:
    add_providers(feeds, settings)
    feeds.documents["/cost-map.json"] = {
        "acme/fast": {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000001"},
        "gpt-4o-mini": {"input_cost_per_token": "0.00000015", "output_cost_per_token": "0.0000006"},
    }
    catalog.add_model_route("fast", "or", 5, 5, upstream_model="acme/fast")
    catalog.add_model_route("mini", "plain", 0, 0, upstream_model="gpt-4o-mini")
    feeds.failing.add("/or/v1/models")
    cost_map = SourceSpec("litellm", feeds.url + "/cost-map.json")  # type: ignore[attr-defined]

    result = price_sync.sync(specs=[SourceSpec("provider"), cost_map], secret_key=settings.secret_key)

    assert [c.slug for c in result.applied] == ["mini"]  # fast keeps its prices: its listing is down
    assert CatalogModel.get(CatalogModel.slug == "fast").prices == {"input": 5, "output": 5}
    failed = [s for s in result.sources if not s["ok"]]
    assert [s["name"] for s in failed] == ["provider or"] and "HTTP 503" in failed[0]["error"]


def test_without_the_secret_key_the_provider_source_fails_and_says_why(
    feeds: FakeFeeds, settings: Settings
) -> None:
    add_providers(feeds, settings)

    result = price_sync.sync(specs=[SourceSpec("provider")])

    assert {s["ok"] for s in result.sources} == {False}
    assert "secret key" in result.sources[0]["error"]


def test_an_unreachable_genai_prices_refresh_keeps_the_installed_data(settings: Settings) -> None:
    table = refreshed_genai_prices("http://127.0.0.1:9/data.json")

    assert table.note.startswith("refresh failed") and "installed data" in table.note
    assert table.entries["openai/gpt-4o-mini"]["input"] == 150_000_000
    catalog.add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    catalog.add_model_route("mini", "up", 0, 0, upstream_model="gpt-4o-mini")
    result = price_sync.sync(specs=[SourceSpec("genai-prices", "http://127.0.0.1:9/data.json")])
    assert [c.slug for c in result.applied] == ["mini"]
    assert result.sources[0]["ok"] is True and result.sources[0]["note"].startswith("refresh failed")


def test_import_creates_priced_models_and_flags_the_unpriced(feeds: FakeFeeds, settings: Settings) -> None:
    add_providers(feeds, settings)
    provider = catalog.get_provider("or")
    price_settings.set_rules(Rules(Rule(Decimal(10))))

    preview = imports.import_models(provider, settings.secret_key, dry_run=True)
    assert [(i.slug, i.state) for i in preview] == [
        ("or/acme/fast", "imported"),
        ("or/acme/mystery", "no price (imported disabled)"),
    ]
    assert CatalogModel.select().count() == 0

    imports.import_models(provider, settings.secret_key, ["acme/fast", "acme/mystery"],
                          {"acme/fast": "fast-1"}, actor="op@example.com")  # fmt: skip

    fast = CatalogModel.get(CatalogModel.slug == "fast-1")
    assert (fast.prices, fast.enabled, fast.context_length) == (
        {"input": 220_000_000, "output": 880_000_000},
        True,
        32000,
    )
    route = Route.get(Route.model == fast.id)
    assert (route.upstream_model, route.costs) == ("acme/fast", {"input": 200_000_000, "output": 800_000_000})
    assert [(v.source, v.actor) for v in versions_of("fast-1")] == [("provider or", "op@example.com")]
    mystery = CatalogModel.get(CatalogModel.slug == "or/acme/mystery")
    assert mystery.enabled is False  # never sold at zero
    listed = {c.listed.id: c.configured for c in imports.candidates(provider, settings.secret_key)}
    assert listed == {"acme/fast": True, "acme/mystery": True}
    assert imports.import_models(provider, settings.secret_key) == []  # --all: nothing left


def test_import_refuses_unknown_ids_and_bad_slugs_changing_nothing(
    feeds: FakeFeeds, settings: Settings
) -> None:
    add_providers(feeds, settings)
    provider = catalog.get_provider("or")

    with pytest.raises(InvalidInput, match="not in the provider's listing: nope"):
        imports.import_models(provider, settings.secret_key, ["acme/fast", "nope"])
    with pytest.raises(InvalidInput, match="not a valid model id"):
        imports.import_models(provider, settings.secret_key, ["acme/fast"], {"acme/fast": "bad id!"})
    assert CatalogModel.select().count() == 0 and Route.select().count() == 0
