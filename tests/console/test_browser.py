"""End to end in headless Chromium: sign up, create a key, call the data plane with the OpenAI SDK,
see the request and charge in Usage; an operator edits a price inline and the next call costs more.

These run on SQLite only: they drive three real servers and a browser, which is slow, and every
database path they touch is covered on both SQLite and PostgreSQL by the test-client tests.
Screenshots go to test-artifacts/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI, RateLimitError
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from console import create_app
from dataplane.app import create_app as create_dataplane
from shared.accounts import create_user
from shared.billing import adjust
from shared.catalog import add_model_route, add_provider
from shared.models import ApiKey, User
from shared.settings import Settings
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "a long enough password"
MODEL = "acme/chat"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite only (see the module docstring)."""
    return request.param


@dataclasses.dataclass
class Stack:
    """The console, the data plane and a fake provider, each on its own loopback port."""

    console_url: str
    gateway_url: str
    upstream: FakeUpstream


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    upstream = FakeUpstream("browser")
    with ServerThread(upstream.app(), log_level="critical", graceful_s=1.0) as provider:
        add_provider("fake", provider.url + "/v1", "sk-upstream", settings.secret_key)
        add_model_route(MODEL, "fake", 1_000_000_000, 2_000_000_000, upstream_model="up-chat")
        with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
            app = create_app(dataclasses.replace(settings, public_base_url=gateway.url))
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield Stack(f"http://127.0.0.1:{server.server_port}", gateway.url, upstream)
            finally:
                server.shutdown()
                thread.join(5)
        upstream.reset()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, email: str, home: str = "Dashboard") -> None:
    """Sign in and land on the home page: a customer's Dashboard, an operator's Overview."""
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page.locator("h1")).to_contain_text(home)


def wait_for_usage(page: Page, base: str, rows: int) -> None:
    """Reload Usage until the data plane's settlement of `rows` requests shows (it commits in batches)."""
    deadline = time.monotonic() + 15
    while True:
        page.goto(base + "/usage")
        if page.locator("td[data-testid=charge]").count() >= rows or time.monotonic() > deadline:
            return
        page.wait_for_timeout(200)


def wait_for_gateway_price(gateway_url: str, price: str) -> None:
    """Wait until the data plane has reloaded its price table (it polls the config version)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        body = httpx.get(f"{gateway_url}/api/v1/models/{MODEL}").json()
        if body.get("pricing", {}).get("input_per_1m") == price:
            return
        time.sleep(0.1)
    raise AssertionError(f"the data plane never picked up the price {price}")


def chat(gateway_url: str, secret: str) -> None:
    client = OpenAI(base_url=gateway_url + "/v1", api_key=secret, max_retries=0)
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello from upstream"


def test_customer_signs_up_creates_a_key_and_sees_the_charge(browser: Browser, stack: Stack) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    base = stack.console_url
    page.goto(base + "/models")
    expect(page.locator("#models-table")).to_contain_text(MODEL)
    shot(page, "01-models-public")
    page.goto(base + "/signup")
    page.fill("input[name=email]", "buyer@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    shot(page, "02-signup")
    page.click("button:has-text('Sign up')")
    expect(page.locator("h1")).to_have_text("API keys")

    page.fill("input[name=name]", "my laptop")
    page.click("button:has-text('Create key')")
    secret_box = page.locator("[data-testid=new-secret]")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    assert secret.startswith("sk-tg-")
    shot(page, "03-key-created")
    page.reload()
    assert secret not in page.content()
    expect(page.locator("#keys-table")).to_contain_text("my laptop")

    buyer = User.get(User.email == "buyer@example.com")
    adjust(buyer.id, 5_000_000_000, "test top-up")
    stack.upstream.default = Reply(usage=(10, 5))
    chat(stack.gateway_url, secret)

    wait_for_usage(page, base, 1)
    # 10 prompt tokens × $1/M + 5 completion tokens × $2/M = $0.00002
    expect(page.locator("td[data-testid=charge]").first).to_have_text("$0.00002")
    expect(page.locator("table.usage")).to_contain_text("my laptop")
    shot(page, "04-usage")
    page.goto(base + "/billing")
    expect(page.locator("table.ledger")).to_contain_text("-$0.00002")
    # The running balance in cents: $5 less $0.00002 reads $5.00 (the charge row has the exact amount).
    expect(page.locator("table.ledger tbody tr").first).to_contain_text("$5.00")
    shot(page, "05-billing")
    page.goto(base + "/")
    # The balance shown excludes what the data plane still holds for requests in flight, so the
    # spend is the stable number to check here.
    expect(page.locator(".stats")).to_contain_text("$0.00002")
    page.wait_for_timeout(300)  # let uPlot draw before the screenshot
    shot(page, "06-dashboard")
    page.goto(base + "/docs?model=" + MODEL)
    shot(page, "07-docs")
    page.goto(base + "/status")
    expect(page.get_by_test_id("part-1")).to_contain_text("API")
    expect(page.get_by_test_id("part-1")).to_contain_text("up")
    shot(page, "08-status")
    page.close()


def test_operator_edits_a_price_inline_and_the_next_request_costs_it(browser: Browser, stack: Stack) -> None:
    base = stack.console_url
    create_user("op@example.com", PASSWORD, role="operator")
    customer = create_user("cust@example.com", PASSWORD)
    adjust(customer.id, 1_000_000_000, "test top-up")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "cust@example.com")
    page.goto(base + "/keys")
    page.click("button:has-text('Create key')")
    secret = page.locator("[data-testid=new-secret]").input_value()
    stack.upstream.default = Reply(usage=(10, 5))
    chat(stack.gateway_url, secret)

    operator = browser.new_page(viewport={"width": 1400, "height": 900})
    sign_in(operator, base, "op@example.com", home="Overview")
    operator.goto(base + "/operator/models")
    row = operator.locator("#prices tbody tr", has_text=MODEL)
    row.get_by_role("link", name="Edit").click()
    price_input = operator.locator("#prices input[name=input_price]")
    expect(price_input).to_be_visible()
    assert operator.url.endswith("/operator/models")  # htmx swapped the row in place
    price_input.fill("3")
    shot(operator, "09-price-inline-edit")
    operator.locator("#prices button:has-text('Save')").click()
    expect(operator.locator("#prices [data-testid=input-price]").first).to_have_text("$3.00")
    shot(operator, "10-price-saved")

    wait_for_gateway_price(stack.gateway_url, "3.000000000")
    chat(stack.gateway_url, secret)
    wait_for_usage(page, base, 2)
    charges = page.locator("td[data-testid=charge]")
    # Newest first: 10 × $3/M + 5 × $2/M = $0.00004, then the earlier $0.00002.
    expect(charges.nth(0)).to_have_text("$0.00004")
    expect(charges.nth(1)).to_have_text("$0.00002")

    pages = [
        ("/operator/users", "11-operator-users"),
        ("/operator/providers", "12-operator-providers"),
        ("/operator/usage?by=model", "13-operator-revenue"),
        ("/operator/groups", "14-groups"),
    ]
    for url, name in pages:
        operator.goto(base + url)
        shot(operator, name)
    operator.goto(base + f"/operator/users/{customer.id}")
    shot(operator, "15-operator-user")
    operator.goto(base + "/operator/providers")
    operator.locator("button:has-text('Test')").first.click()
    expect(operator.locator("[data-testid=probe-result]")).to_have_text("OK")
    shot(operator, "16-provider-test")
    page.close()
    operator.close()


def test_customer_limits_a_key_and_the_data_plane_enforces_it(browser: Browser, stack: Stack) -> None:
    base = stack.console_url
    customer = create_user("limited@example.com", PASSWORD)
    adjust(customer.id, 1_000_000_000, "test top-up")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "limited@example.com")
    page.goto(base + "/keys")
    page.fill("input[name=name]", "one a minute")
    page.fill("input[name=rpm_limit]", "1")
    page.click("button:has-text('Create key')")
    secret = page.locator("[data-testid=new-secret]").input_value()

    chat(stack.gateway_url, secret)
    client = OpenAI(base_url=stack.gateway_url + "/v1", api_key=secret, max_retries=0)
    with pytest.raises(RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.response.headers["x-ratelimit-limit-requests"] == "1"
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60

    page.goto(base + f"/keys/{ApiKey.get(ApiKey.user == customer.id).id}/edit")
    expect(page.locator("input[name=rpm_limit]")).to_have_value("1")
    page.fill("input[name=rpm_limit]", "")
    shot(page, "17-key-limits")
    page.click("button:has-text('Save')")
    expect(page.locator("#keys-table")).to_contain_text("one a minute")
    deadline = time.monotonic() + 2.0  # limits apply within two seconds of being saved
    while True:
        try:
            chat(stack.gateway_url, secret)
            break
        except RateLimitError:
            assert time.monotonic() < deadline, "the cleared limit still applies"
            time.sleep(0.05)
    page.close()
