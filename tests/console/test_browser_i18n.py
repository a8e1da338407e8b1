"""In headless Chromium: a Vietnamese browser gets the console in Vietnamese, the header's switch
changes the language and keeps it; every translated page in both languages, with screenshots.

SQLite only, like the other browser tests: the pages' database paths run on both databases in the
test-client tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from shared.accounts import create_key, create_user
from shared.billing import adjust
from shared.catalog import add_model_route, add_provider
from shared.settings import Settings

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots" / "languages"
PASSWORD = "a long enough password"
# Each translated page a customer sees, and a heading it shows in English and in Vietnamese.
PAGES = [
    ("/", "Dashboard", "Bảng điều khiển"),
    ("/keys", "API keys", "Khóa API"),
    ("/usage", "Usage", "Mức sử dụng"),
    ("/billing", "Billing", "Thanh toán"),
    ("/models", "Models & prices", "Mô hình & giá"),
    ("/models/acme/chat", "Call it", "Cách gọi"),
    ("/status", "Background jobs", "Tác vụ nền"),
    ("/docs", "Set up your coding agent", "Thiết lập agent lập trình"),
]

# Pages a visitor sees signed out (signed in, they lead to the dashboard), walked the same way.
SIGNED_OUT_PAGES = [("/login", "Sign in", "Đăng nhập")]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", "viet@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button.button").click()
    expect(page.locator("h1")).to_have_text("Bảng điều khiển")


def test_a_vietnamese_browser_reads_vietnamese_and_the_switch_keeps_english(
    browser: Browser, live_console: str, settings: Settings
) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "sk-up", settings.secret_key)
    add_model_route("acme/chat", "up", 1_000_000_000, 2_000_000_000)
    customer = create_user("viet@example.com", PASSWORD)
    adjust(customer.id, 1_234_560_000_000, "top-up")
    create_key(customer, name="laptop")
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_console + "/login")
    sign_in(page, live_console)
    expect(page.locator("[data-testid=balance]")).to_have_text("1.234,56 US$")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for url, _, vietnamese in PAGES:
        page.goto(live_console + url)
        expect(page.locator("main")).to_contain_text(vietnamese)
        page.screenshot(path=str(SCREENSHOTS / f"vi{url.replace('/', '_') or '_'}.png"), full_page=True)

    page.goto(live_console + "/keys")
    page.locator("[data-testid=language-switch] button", has_text="English").click()
    expect(page.locator("h1")).to_have_text("API keys")
    assert page.url == live_console + "/keys"  # back where the switch was pressed
    for url, english, _ in PAGES:
        page.goto(live_console + url)  # the browser still asks for Vietnamese; the choice wins
        expect(page.locator("main")).to_contain_text(english)
        page.screenshot(path=str(SCREENSHOTS / f"en{url.replace('/', '_') or '_'}.png"), full_page=True)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()


def test_the_sign_in_page_in_both_languages(browser: Browser, live_console: str) -> None:
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for url, _, vietnamese in SIGNED_OUT_PAGES:
        page.goto(live_console + url)
        expect(page.locator("h1")).to_have_text(vietnamese)
        page.screenshot(path=str(SCREENSHOTS / f"vi{url.replace('/', '_')}.png"), full_page=True)
    page.locator("[data-testid=language-switch] button", has_text="English").click()
    for url, english, _ in SIGNED_OUT_PAGES:
        page.goto(live_console + url)
        expect(page.locator("h1")).to_have_text(english)
        page.screenshot(path=str(SCREENSHOTS / f"en{url.replace('/', '_')}.png"), full_page=True)
    context.close()
