"""In headless Chromium: the Deposit tab shows the address and its QR code, and a deposit mined on
the fake TRON node shows up as credited and raises the balance on the dashboard.

SQLite only, like the console's browser tests: every database path here is covered on both
backends by the test-client tests. The scan is run in-process, as the worker's job would run it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from console import create_app
from shared.accounts import create_user
from shared.settings import Settings
from shared.tron import addresses
from shared.tron.config import TronConfig
from shared.tron.scanner import Scanner
from tests.console.conftest import browser  # noqa: F401 (fixture)
from tests.console.test_browser import PASSWORD, shot, sign_in
from tests.tron.conftest import SENDER, VECTORS, XPUB
from tests.tron.fake_node import FakeTronNode

pytestmark = pytest.mark.browser


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def console_url(settings: Settings, tron: TronConfig) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_deposit_tab_then_a_mined_deposit_is_credited(
    browser: Browser,  # noqa: F811
    console_url: str,
    settings: Settings,
    fake: FakeTronNode,
) -> None:
    user = create_user("payer@example.com", PASSWORD)
    page = browser.new_page()
    try:
        sign_in(page, console_url, "payer@example.com")
        expect(page.get_by_test_id("balance")).to_have_text("$0.00")
        page.click("nav.nav >> text=Billing")
        page.click("nav.tabs >> text=Deposit")
        expect(page.get_by_test_id("deposit-address")).to_have_value(VECTORS[0])
        expect(page.get_by_test_id("deposit-qr").locator("svg")).to_be_visible()
        expect(page.locator("text=TRON / TRC-20 only")).to_be_visible()
        shot(page, "deposit-tab")
        assert addresses.address_of(user.id).address == VECTORS[0] == addresses.derive(XPUB, 0)

        fake.add_transfer(SENDER, VECTORS[0], 12_340_000)
        fake.solidify()
        assert Scanner(settings).run_once().error == ""

        page.reload()
        row = page.locator("[data-testid=deposits] tr[data-status=credited]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("12.34")
        expect(row).to_contain_text("$12.34")
        shot(page, "deposit-credited")
        page.click("nav.nav >> text=Dashboard")
        expect(page.get_by_test_id("balance")).to_have_text("$12.34")
    finally:
        page.close()
