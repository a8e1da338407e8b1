"""In Chromium: a provider test shows its progress while it waits, a route delete asks first, and
the Settings page renames the product and sends a test mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from shared.accounts import create_user
from shared.catalog import add_model_route, add_provider
from shared.models import Route
from shared.settings import Settings
from tests.support.keyless import Keyless
from tests.support.servers import ServerThread
from tests.support.smtp_sink import SmtpSink
from tests.support.upstream import FakeUpstream

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

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


def test_settings_rename_the_product_and_the_test_mail_shows_its_answer(
    operator_page: Page, live_console: str
) -> None:
    with SmtpSink() as sink:
        page = operator_page
        page.goto(live_console + "/operator/settings")
        page.fill("input[name=product_name]", "Acme AI")
        page.fill("textarea[name=announcement]", "New models every week")
        page.locator("[data-testid=general] button").click()
        expect(page.locator(".brand")).to_have_text("Acme AI")
        expect(page.locator("[data-testid=announcement]")).to_have_text("New models every week")
        expect(page).to_have_title("Settings · Acme AI")

        page.fill("input[name=smtp_host]", "127.0.0.1")
        page.fill("input[name=smtp_port]", str(sink.port))
        page.select_option("select[name=smtp_tls]", "none")
        page.locator("[data-testid=smtp] button").click()
        page.fill("input[name=to]", "me@example.com")
        page.locator("[data-testid=test-mail] button").click()
        result = page.locator("[data-testid=test-mail-result]")
        expect(result).to_contain_text("accepted the test mail to me@example.com")
        assert sink.wait_for_mail()["Subject"] == "Acme AI: test mail"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "operator-settings.png"), full_page=True)
