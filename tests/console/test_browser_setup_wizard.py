"""In Chromium: the Docs page's setup wizard. A customer picks a tool, clicks a model tag and every
snippet follows; "Test my key" shows its progress, then the reply and the charge the data plane
recorded for the one-token call (a real data plane in front of a fake provider); a wrong key shows
the 401's advice. SQLite only, like the other browser flows; screenshots go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from console import create_app
from console.filters import usd
from dataplane.app import create_app as create_dataplane
from shared.accounts import create_key, create_user
from shared.billing import adjust
from shared.catalog import add_model_route, add_provider
from shared.models import UsageRecord, User
from shared.settings import Settings
from tests.console.test_browser import shot
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
FIRST, SECOND = "acme/big-coder", "acme/mini-coder"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite only (see the module docstring)."""
    return request.param


@dataclasses.dataclass
class Stack:
    console_url: str
    upstream: FakeUpstream


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    upstream = FakeUpstream("wizard")
    with ServerThread(upstream.app(), log_level="critical", graceful_s=1.0) as provider:
        add_provider("fake", provider.url + "/v1", "sk-upstream", settings.secret_key)
        add_model_route(
            FIRST, "fake", 3_000_000_000, 15_000_000_000, upstream_model="up-big", capabilities=["tools"]
        )
        add_model_route(SECOND, "fake", 1_000_000_000, 2_000_000_000, upstream_model="up-small")
        with ServerThread(create_dataplane(settings), log_level="critical", graceful_s=1.0) as gateway:
            app = create_app(dataclasses.replace(settings, public_base_url=gateway.url))
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield Stack(f"http://127.0.0.1:{server.server_port}", upstream)
            finally:
                upstream.reset()  # ends a latency still running
                server.shutdown()
                thread.join(5)


@pytest.fixture
def customer_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    create_user("coder@example.com", PASSWORD)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(stack.console_url + "/login")
    page.fill("input[name=email]", "coder@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).not_to_have_url(re.compile(r"/login"))
    yield page
    page.close()


def test_picking_a_tool_and_a_model_tag_fills_in_every_snippet(customer_page: Page, stack: Stack) -> None:
    page = customer_page
    page.goto(stack.console_url + "/docs")
    expect(page.locator("#tool-claude-code-env")).to_contain_text(f"ANTHROPIC_MODEL={FIRST}")

    page.locator("a[data-tool=codex]").click()

    profile = page.locator("#tool-codex-profile")
    expect(profile).to_contain_text(f'model = "{FIRST}"')
    expect(page.locator("#tool-codex-config")).to_contain_text('wire_api = "responses"')
    expect(page).to_have_url(re.compile(r"tool=codex"))  # htmx pushed the URL: the page can be shared
    expect(page.locator("#tool-claude-code-env")).to_have_count(0)

    page.locator(f"a[data-model='{SECOND}']").click()

    expect(profile).to_contain_text(f'model = "{SECOND}"')
    expect(page.locator(f"a[data-model='{SECOND}']")).to_have_class(re.compile(r"\bactive\b"))
    # Every snippet follows the tag, the quick start's too, and the key test will call it.
    expect(page.locator("#py-chat")).to_contain_text(f'model="{SECOND}"')
    expect(page.locator("#curl-chat")).to_contain_text(SECOND)
    expect(page.locator("form.key-test input[name=model]")).to_have_value(SECOND)
    assert FIRST not in page.locator("#tool-codex-profile").inner_text()
    shot(page, "30-docs-setup-wizard-codex")

    page.locator("a[data-tool=continue]").click()  # the model stays picked across tools
    expect(page.locator("#tool-continue-config")).to_contain_text(f'model: "{SECOND}"')
    shot(page, "31-docs-setup-wizard-continue")


def test_test_my_key_shows_progress_then_the_reply_and_the_recorded_charge(
    customer_page: Page, stack: Stack
) -> None:
    customer = User.get(User.email == "coder@example.com")
    adjust(customer.id, 1_000_000_000, "test top-up")
    secret = create_key(customer, name="laptop")[1]
    page = customer_page
    page.goto(stack.console_url + f"/docs?tool=claude-code&model={SECOND}")
    waiting = page.locator("[data-testid=key-test-wait]")
    expect(waiting).to_be_hidden()
    # The provider waits until released, so the progress can be seen whatever the machine's speed.
    stack.upstream.default = Reply(text="OK", usage=(12, 1), latency_s=60)

    page.fill("#key-test-key", secret)
    page.locator("form.key-test button:has-text('Test my key')").click()

    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text(f"Calling {SECOND} through the gateway… waiting up to 15 s")
    expect(page.locator("form.key-test button")).to_be_disabled()
    shot(page, "32-docs-key-test-waiting")
    stack.upstream.release()
    outcome = page.locator("[data-testid=key-test-outcome]")
    expect(outcome).to_contain_text("The key works.", timeout=15_000)
    expect(waiting).to_be_hidden()
    expect(page.locator("[data-testid=key-test-reply]")).to_have_text("OK")
    expect(page.locator("[data-testid=key-test-tokens]")).to_have_text("12 in, 1 out")
    request_id = re.search(r"request (\S+)", outcome.inner_text()).group(1)  # type: ignore[union-attr]
    record = UsageRecord.get(UsageRecord.request_id == request_id)
    assert record.charge == 12 * 1_000 + 1 * 2_000  # 12 × $1/M + 1 × $2/M
    expect(page.locator("[data-testid=key-test-cost]")).to_have_text(usd(record.charge, exact=True))
    assert secret not in page.content()  # the key is sent once and never shown back
    shot(page, "33-docs-key-test-ok")

    page.fill("#key-test-key", "sk-tg-wrong")
    page.locator("form.key-test button:has-text('Test my key')").click()
    expect(outcome).to_contain_text("HTTP 401: The gateway does not accept this key")
    shot(page, "34-docs-key-test-401")
