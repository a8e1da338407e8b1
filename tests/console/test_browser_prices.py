"""In headless Chromium, an operator syncs prices from a fake feed on the Models & prices page:
previews (nothing changes), syncs (with progress while the feed answers), approves a held change,
sees a hand edit in the change log, and imports models from a fake provider's `/models`.

SQLite only, like test_browser.py: the database paths are covered on both backends by
tests/shared/test_price_sources_more.py and tests/shared/test_price_sync.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from shared.accounts import create_user
from shared.catalog import add_model_route, add_provider
from shared.models import CatalogModel, PriceChange, Route
from shared.pricing import settings as price_settings
from shared.pricing.sources import SourceSpec
from shared.settings import Settings
from tests.cli.conftest import snapshot
from tests.console.test_browser import shot
from tests.console.test_browser_sign_in import Watched
from tests.support.price_feeds import FakeFeeds
from tests.support.servers import ServerThread

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
FEED = {
    "data": [{"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}}]
}
LISTING = {
    "data": [
        {
            "id": "acme/fast",
            "context_length": 32000,
            "pricing": {"prompt": "0.0000002", "completion": "0.0000008"},
        },
        {"id": "acme/mystery"},
    ]
}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite only (see the module docstring)."""
    return request.param


@pytest.fixture(scope="module")
def feed_server() -> Iterator[tuple[FakeFeeds, ServerThread]]:
    fake = FakeFeeds()
    fake.gate.set()
    with ServerThread(fake.app()) as server:
        yield fake, server


@pytest.fixture
def feeds(feed_server: tuple[FakeFeeds, ServerThread]) -> Iterator[tuple[FakeFeeds, str]]:
    fake, server = feed_server
    fake.documents.update({"/models": FEED, "/or/v1/models": LISTING})
    yield fake, server.url
    fake.gated.clear()
    fake.gate.set()


def operator_page(browser: Browser, base: str) -> tuple[Watched, Page]:
    create_user("op@example.com", PASSWORD, role="operator")
    watched = Watched(browser)
    page = watched.page
    page.goto(base + "/login")
    page.fill("input[name=email]", "op@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).not_to_have_url(re.compile(r"/login"))
    return watched, page


def prices_of(slug: str) -> dict[str, int]:
    return CatalogModel.get(CatalogModel.slug == slug).prices


def test_preview_sync_approve_and_the_change_log(
    browser: Browser, live_console: str, settings: Settings, feeds: tuple[FakeFeeds, str]
) -> None:
    fake, feed_url = feeds
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("mini", "up", 140_000_000, 580_000_000, upstream_model="gpt-4o-mini")
    price_settings.set_sources([SourceSpec("openrouter", feed_url + "/models")])
    watched, page = operator_page(browser, live_console)
    panel = page.locator("#price-sync")
    page.goto(live_console + "/operator/models")

    before = snapshot()
    page.click("button:has-text('Preview (dry run)')")
    expect(panel.get_by_test_id("sync-result")).to_contain_text("Preview: nothing was changed")
    expect(panel.get_by_test_id("sync-result")).to_contain_text("Would change: 1")
    expect(panel.locator("[data-testid=sync-result] tr[data-model=mini]")).to_contain_text("+7.1 %")
    assert snapshot() == before

    # A sync while the feed is slow shows its progress, then the result and the source's status.
    fake.gated.add("/models")
    fake.gate.clear()
    page.click("button:has-text('Sync prices now')")
    expect(page.locator("#sync-progress")).to_have_class(re.compile("htmx-request"))
    expect(page.locator("button:has-text('Sync prices now')")).to_be_disabled()
    fake.gate.set()
    expect(panel.get_by_test_id("sync-result")).to_contain_text("Changed: 1")
    expect(panel.get_by_test_id("source-status")).to_contain_text("ok")
    expect(panel.get_by_test_id("source-status")).to_contain_text(feed_url + "/models")
    assert prices_of("mini") == {"input": 150_000_000, "output": 600_000_000}
    shot(page, "prices-01-synced")

    # A 100 % markup set in the console doubles the price: held until the operator approves it.
    form = panel.get_by_test_id("markup-form")
    form.locator("input[name=percent]").fill("100")
    form.locator("button").click()
    expect(panel.get_by_test_id("markup-rules")).to_contain_text("100 %")
    panel.locator("button:has-text('Sync prices now')").click()
    pending = panel.locator("[data-testid=pending] tr[data-model=mini]")
    expect(pending).to_contain_text("+100 %")
    assert prices_of("mini")["input"] == 150_000_000
    shot(page, "prices-02-held")
    pending.locator("button:has-text('Approve')").click()
    expect(panel.get_by_test_id("sync-notice")).to_contain_text("Applied the change to mini")
    expect(panel.get_by_test_id("pending")).to_contain_text("Nothing waits for approval")
    assert prices_of("mini") == {"input": 300_000_000, "output": 1_200_000_000}
    assert PriceChange.get().decided_by == "op@example.com"

    # A hand edit of the row is a manual version at the top of the change log.
    row = page.locator("#prices tr", has=page.locator("code", has_text="mini")).first
    row.locator("a:has-text('Edit')").click()
    page.locator("#prices input[name=input_price]").fill("0.5")
    page.locator("#prices button:has-text('Save')").click()
    expect(page.locator("[data-testid=input-price]").first).to_contain_text("0.5")
    page.reload()
    latest = panel.locator("[data-testid=change-log] tbody tr").first
    expect(latest.get_by_test_id("log-source")).to_have_text("manual")
    expect(latest).to_contain_text("op@example.com")
    expect(latest).to_contain_text("+66.7 %")
    expect(panel.locator("[data-testid=change-log] tbody tr")).to_have_count(4)  # add, sync, approve, edit
    shot(page, "prices-03-change-log")
    assert watched.violations() == []


def test_import_models_from_a_providers_listing(
    browser: Browser, live_console: str, settings: Settings, feeds: tuple[FakeFeeds, str]
) -> None:
    _, feed_url = feeds
    add_provider("or", feed_url + "/or/v1", "sk-or", settings.secret_key)
    price_settings.set_sources([SourceSpec("provider")])
    watched, page = operator_page(browser, live_console)

    page.goto(live_console + "/operator/providers")
    page.click("a:has-text('Import models')")
    listing = page.get_by_test_id("import-list")
    expect(listing.locator("tr[data-model='acme/mystery']")).to_contain_text("no price")
    expect(listing.locator("tr[data-model='acme/fast']")).to_contain_text("provider or")
    page.check("input[aria-label='Import acme/fast']")
    page.fill("input[aria-label='Public id of acme/fast']", "fast-1")
    page.check("input[aria-label='Import acme/mystery']")
    shot(page, "prices-04-import")
    page.click("button:has-text('Import the ticked models')")

    expect(page.locator(".flash.success")).to_contain_text("Imported 2 model(s) from or")
    expect(page.locator(".flash.error")).to_contain_text("or/acme/mystery: imported disabled")
    fast = CatalogModel.get(CatalogModel.slug == "fast-1")
    assert (fast.prices, fast.enabled) == ({"input": 200_000_000, "output": 800_000_000}, True)
    assert CatalogModel.get(CatalogModel.slug == "or/acme/mystery").enabled is False
    assert Route.get(Route.model == fast.id).upstream_model == "acme/fast"
    page.goto(live_console + "/operator/providers")
    page.click("a:has-text('Import models')")
    expect(page.get_by_test_id("import-list").locator("tr[data-model='acme/fast']")).to_contain_text(
        "configured"
    )
    assert watched.violations() == []
