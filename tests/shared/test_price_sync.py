"""Price sync against real feed servers on loopback and the shipped genai-prices data.

Every expected price is worked out by hand from the feed's USD-per-token strings: USD per token
× 1M tokens × 1e9 nano-USD, then the markup, then the rounding step.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from shared import catalog
from shared.jobs import sync_prices
from shared.models import CatalogModel, PriceChange, PriceVersion, Route
from shared.pricing import settings as price_settings
from shared.pricing import sync as price_sync
from shared.pricing.markup import Rule, Rules
from shared.pricing.sources import SourceSpec
from shared.settings import Settings
from tests.support.price_feeds import FakeFeeds
from tests.support.servers import ServerThread

# openai/gpt-4o-mini in an OpenRouter-style feed: $0.15 / $0.60 / $0.075 per 1M tokens.
MINI = {
    "prompt": "0.00000015",
    "completion": "0.0000006",
    "input_cache_read": "0.000000075",
    "image": "0.001",
    "request": "0.0005",
}


@pytest.fixture(scope="module")
def feed_server() -> Iterator[tuple[FakeFeeds, ServerThread]]:
    feeds = FakeFeeds()
    with ServerThread(feeds.app()) as server:
        yield feeds, server


@pytest.fixture
def feeds(feed_server: tuple[FakeFeeds, ServerThread]) -> Iterator[FakeFeeds]:
    fake, server = feed_server
    fake.documents.clear()
    fake.failing.clear()
    fake.url = server.url  # type: ignore[attr-defined]
    fake.documents["/models"] = {"data": [{"id": "openai/gpt-4o-mini", "pricing": dict(MINI)}]}
    yield fake


def openrouter(feeds: FakeFeeds) -> SourceSpec:
    return SourceSpec("openrouter", feeds.url + "/models")  # type: ignore[attr-defined]


def cost_map(feeds: FakeFeeds) -> SourceSpec:
    return SourceSpec("litellm", feeds.url + "/cost-map.json")  # type: ignore[attr-defined]


@pytest.fixture
def provider(settings: Settings) -> None:
    catalog.add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key, kind="openai")


def model(
    slug: str, upstream: str, input_price: int = 0, output_price: int = 0, **kwargs: object
) -> CatalogModel:
    route = catalog.add_model_route(slug, "up", input_price, output_price, upstream_model=upstream, **kwargs)
    return CatalogModel.get_by_id(route.model_id)


def prices_of(slug: str) -> dict[str, int]:
    return CatalogModel.get(CatalogModel.slug == slug).prices


def costs_of(slug: str) -> dict[str, int]:
    return Route.get(Route.model == CatalogModel.get(CatalogModel.slug == slug).id).costs


def test_a_feed_sets_costs_and_sale_prices_with_the_global_markup(feeds: FakeFeeds, provider: None) -> None:
    price_settings.set_sources([openrouter(feeds)])
    price_settings.set_rules(Rules(Rule(Decimal(5))))
    # Dated upstream name, no provider prefix: matched through its aliases.
    model("mini", "gpt-4o-mini-2024-07-18")

    result = price_sync.sync()

    costs = {"input": 150_000_000, "output": 600_000_000, "cached_input": 75_000_000}
    costs |= {"image": 1_000_000, "request": 500_000}
    assert costs_of("mini") == costs
    assert prices_of("mini") == {
        "input": 157_500_000,  # 150_000_000 × 1.05
        "output": 630_000_000,
        "cached_input": 78_750_000,
        "image": 1_050_000,
        "request": 525_000,
    }
    assert [c.slug for c in result.applied] == ["mini"] and result.held == []
    # Adding the model recorded its first (manual) version; the sync the next one.
    manual, version = PriceVersion.select().order_by(PriceVersion.id)
    assert (manual.source, manual.prices) == ("manual", {"input": 0, "output": 0})
    assert version.prices == prices_of("mini") and version.actor == "sync"
    assert version.old_prices == {"input": 0, "output": 0}
    assert version.source.startswith("openrouter ")
    # Nothing moved since: a second sync changes nothing and adds no version.
    assert price_sync.sync().applied == [] and PriceVersion.select().count() == 2


def test_a_cost_map_with_model_and_provider_rules_a_fixed_amount_and_a_step(
    feeds: FakeFeeds, provider: None
) -> None:
    # JSON numbers in exponent form, as such maps spell them: read exactly, never as floats.
    feeds.documents["/cost-map.json"] = (
        '{"sample_spec": {"input_cost_per_token": 1}, '
        '"big-1": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05}, '
        '"whisper-x": {"input_cost_per_second": 0.0001}}'
    )
    price_settings.set_sources([cost_map(feeds)])
    step = Rule(Decimal(10), fixed=1_000, step=1_000_000)
    price_settings.set_rules(Rules(Rule(), {"up": Rule(Decimal(50))}, {"big": step}))
    model("big", "big-1")
    model("whisper", "whisper-x", modality="transcription")

    price_sync.sync()

    assert costs_of("big") == {"input": 2_500_000_000, "output": 10_000_000_000}
    # 2_500_000_000 × 1.10 + 1_000 = 2_750_001_000, up to the next 1_000_000.
    assert prices_of("big") == {"input": 2_751_000_000, "output": 11_001_000_000}
    # The provider's 50 %: $0.0001 per second = 100_000 nano-USD → 150_000.
    assert costs_of("whisper")["audio_second"] == 100_000
    assert prices_of("whisper")["audio_second"] == 150_000


def test_the_shipped_genai_prices_data_prices_known_models(provider: None, settings: Settings) -> None:
    model("mini", "gpt-4o-mini")
    catalog.add_provider("anth", "http://127.0.0.1:9", "k", settings.secret_key, kind="anthropic")
    catalog.add_model_route("sonnet", "anth", 0, 0, upstream_model="claude-3-5-sonnet-20241022")

    result = price_sync.sync(specs=[SourceSpec("genai-prices")])

    assert {c.source for c in result.applied} == {"genai-prices"}
    assert costs_of("mini") == {"input": 150_000_000, "output": 600_000_000, "cached_input": 75_000_000}
    assert prices_of("mini") == costs_of("mini")  # no markup rule: sale = cost
    sonnet = costs_of("sonnet")
    assert (sonnet["input"], sonnet["output"]) == (3_000_000_000, 15_000_000_000)


def test_a_pinned_model_keeps_its_prices_while_its_costs_follow_the_feed(
    feeds: FakeFeeds, provider: None
) -> None:
    price_settings.set_sources([openrouter(feeds)])
    model("mini", "openai/gpt-4o-mini", input_price=900_000_000, output_price=900_000_000)
    price_sync.pin("mini")

    price_sync.sync()

    assert prices_of("mini") == {"input": 900_000_000, "output": 900_000_000}
    assert costs_of("mini")["input"] == 150_000_000


def test_a_large_move_waits_for_approval_then_applies(feeds: FakeFeeds, provider: None) -> None:
    price_settings.set_sources([openrouter(feeds)])
    feeds.documents["/models"] = {"data": [{"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.0000001"}}]}
    model("mini", "gpt-4o-mini", input_price=120_000_000, output_price=1)
    # 120_000_000 → 100_000_000 is −16.7 %: under the 20 % threshold, applied.
    assert [c.slug for c in price_sync.sync().applied] == ["mini"]
    assert prices_of("mini")["input"] == 100_000_000

    feeds.documents["/models"] = {"data": [{"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.00000015"}}]}
    result = price_sync.sync()  # +50 %: held

    assert result.applied == [] and [c.slug for c in result.held] == ["mini"]
    assert prices_of("mini")["input"] == 100_000_000
    change = PriceChange.get(PriceChange.state == "pending")
    assert (change.old_prices["input"], change.prices["input"]) == (100_000_000, 150_000_000)
    # Syncing again does not pile up a second copy of the same held change.
    assert price_sync.sync().held[0].change_id == change.id
    assert PriceChange.select().count() == 1

    price_sync.approve(change.id, "ops@example.com")

    assert prices_of("mini")["input"] == 150_000_000
    assert costs_of("mini")["input"] == 150_000_000
    latest = PriceVersion.select().order_by(PriceVersion.id.desc()).get()
    assert (latest.prices["input"], latest.actor) == (150_000_000, "ops@example.com")
    assert PriceChange.get_by_id(change.id).state == "applied"


def test_a_rejected_change_leaves_the_prices(feeds: FakeFeeds, provider: None) -> None:
    price_settings.set_sources([openrouter(feeds)])
    model("mini", "gpt-4o-mini", input_price=10_000_000, output_price=600_000_000)
    held = price_sync.sync().held[0]

    price_sync.reject(held.change_id, "ops")

    assert prices_of("mini") == {"input": 10_000_000, "output": 600_000_000}
    assert price_sync.pending() == []


def test_a_failing_source_keeps_the_last_prices_and_shows_its_error(feeds: FakeFeeds, provider: None) -> None:
    # The feed first, a cost map with other prices after it.
    feeds.documents["/cost-map.json"] = {"gpt-4o-mini": {"input_cost_per_token": "0.000009"}}
    price_settings.set_sources([openrouter(feeds), cost_map(feeds)])
    model("mini", "gpt-4o-mini")
    price_sync.sync()
    before = prices_of("mini")
    assert before["input"] == 150_000_000

    feeds.failing.add("/models")
    result = price_sync.sync()

    # Not re-priced from the lower-ranked cost map while the feed is down.
    assert result.applied == [] and prices_of("mini") == before
    status = price_settings.status()
    feed_status = status["sources"][0]
    assert feed_status["ok"] is False and "HTTP 503" in feed_status["error"]
    assert feed_status["error_at"] and feed_status["last_ok_at"]
    assert status["sources"][1]["ok"] is True


def test_an_unreachable_source_is_an_error_not_a_crash(provider: None) -> None:
    price_settings.set_sources([SourceSpec("openrouter", "http://127.0.0.1:9/models")])
    model("mini", "gpt-4o-mini", input_price=5, output_price=5)

    result = price_sync.sync()

    assert result.applied == [] and prices_of("mini") == {"input": 5, "output": 5}
    assert result.sources[0]["ok"] is False and result.sources[0]["error"]


def test_a_pinned_match_prices_the_route_from_that_entry(feeds: FakeFeeds, provider: None) -> None:
    feeds.documents["/models"]["data"].append({"id": "vendor/house-model", "pricing": {"prompt": "0.000001"}})
    price_settings.set_sources([openrouter(feeds)])
    model("house", "my-finetune-7")  # no entry carries this name
    assert price_sync.sync().unmatched == ["house via up: my-finetune-7"]

    price_sync.pin_match("house", "vendor/house-model")
    price_sync.sync()

    assert prices_of("house")["input"] == 1_000_000_000


def test_the_worker_job_syncs_only_once_the_operator_chose_sources(
    feeds: FakeFeeds, provider: None, settings: Settings
) -> None:
    model("mini", "gpt-4o-mini", input_price=140_000_000, output_price=590_000_000)
    assert sync_prices(settings) is None
    assert prices_of("mini") == {"input": 140_000_000, "output": 590_000_000}

    price_settings.set_sources([openrouter(feeds)])
    result = sync_prices(settings)

    assert result is not None and [c.slug for c in result.applied] == ["mini"]
    assert prices_of("mini")["input"] == 150_000_000
