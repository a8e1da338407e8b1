"""In Chromium: a provider test shows its progress while it waits, and a route delete asks first."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from shared.accounts import create_user
from shared.catalog import add_model_route, add_provider
from shared.models import Route
from shared.settings import Settings
from tests.support.keyless import Keyless
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream

PASSWORD = "operator password 1"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Browser flows run on one database: what they check is the page, not the storage."""
    return request.param


@pytest.fixture(scope="module")
def slow_provider() -> Iterator[tuple[Keyless, str]]:
    """A keyless provider that takes a moment to answer, so the wait can be seen."""
    keyless = Keyless(FakeUpstream("slow"), latency_s=1.5)
    with ServerThread(keyless.app(), log_level="critical", graceful_s=1.0) as server:
        yield keyless, server.url + "/v1"


@pytest.fixture
def operator_page(browser: Browser, live_console: str, settings: Settings) -> Iterator[Page]:
    create_user("op@example.com", PASSWORD, role="operator")
    page = browser.new_page()
    page.goto(live_console + "/login")
    page.fill("input[name=email]", "op@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).not_to_have_url(re.compile(r"/login"))
    yield page
    page.close()


def test_provider_test_shows_progress_then_the_result(
    operator_page: Page, live_console: str, settings: Settings, slow_provider: tuple[Keyless, str]
) -> None:
    _, base_url = slow_provider
    add_provider("ollama", base_url, "", settings.secret_key, kind="openai-chat")
    add_model_route("local/llama", "ollama", 1, 1, upstream_model="llama3.2")
    page = operator_page
    page.goto(live_console + "/operator/providers")
    waiting = page.locator("[data-testid=probe-wait]")
    expect(waiting).to_be_hidden()

    page.locator("button:has-text('Test')").click()

    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text("Testing… waiting up to")
    expect(page.locator("[data-testid=probe-result]")).to_have_text("OK", timeout=10_000)
    expect(waiting).to_be_hidden()


def test_deleting_a_route_asks_first_and_cancel_keeps_it(
    operator_page: Page, live_console: str, settings: Settings
) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("acme/chat", "up", 1, 1, upstream_model="chat")
    page = operator_page
    page.goto(live_console + "/operator/models")
    asked: list[str] = []

    def answer(accept: bool):  # type: ignore[no-untyped-def]
        def handle(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.locator("form[action$='/delete'] button:has-text('Delete')").click()
    page.wait_for_load_state()
    kept = Route.select().count()
    page.once("dialog", answer(True))
    page.locator("form[action$='/delete'] button:has-text('Delete')").click()
    page.wait_for_url(live_console + "/operator/models**")

    assert kept == 1
    assert (
        asked == ["Delete the route of acme/chat through up? Without a route the model is unavailable."] * 2
    )
    expect(page.locator("td.empty", has_text="No routes yet")).to_be_visible()
    assert Route.select().count() == 0
