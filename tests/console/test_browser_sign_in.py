"""In headless Chromium: a reset link printed by the CLI sets a new password; the console's pages
work under its Content-Security-Policy (htmx, copy buttons, confirmations) without one violation.

SQLite only, like test_browser.py: the database paths are covered on both backends elsewhere.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from shared.accounts import create_user
from shared.billing import adjust
from shared.catalog import add_model_route, add_provider
from shared.models import Provider
from shared.settings import Settings
from tests.cli.conftest import Cli
from tests.console.test_browser import shot

pytestmark = pytest.mark.browser

OLD = "the old long password"
NEW = "a brand new long password"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite only (see the module docstring)."""
    return request.param


class Watched:
    """A page whose console messages and script errors are collected."""

    def __init__(self, browser: Browser) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.messages: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        self.messages.append(f"{message.type}: {message.text}")

    def violations(self) -> list[str]:
        """Console messages about the Content-Security-Policy, and any script error."""
        return [
            m
            for m in self.messages
            if "Content Security Policy" in m or "Refused to" in m or "pageerror" in m
        ]


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")


def test_a_reset_link_from_the_cli_sets_a_new_password(
    browser: Browser, live_console: str, database_url: str, settings: Settings
) -> None:
    user = create_user("forgetful@example.com", OLD)
    cli = Cli(
        env={
            "DATABASE_URL": database_url,
            "TOLLGATE_SECRET_KEY": "cli-test-secret",
            "TOLLGATE_VAR_DIR": str(settings.var_dir),
            "TOLLGATE_CONSOLE_PUBLIC_URL": live_console,
        }
    )
    link = cli.ok("user", "reset-password", user.email).strip()
    assert link.startswith(live_console + "/reset/")
    watched = Watched(browser)
    page = watched.page
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Choose a new password")
    page.fill("input[name=password]", NEW)
    page.fill("input[name=confirm]", NEW)
    shot(page, "20-reset-password")
    page.click("button:has-text('Set new password')")
    expect(page.locator(".flash")).to_contain_text("Your password is changed")
    sign_in(page, live_console, user.email, OLD)
    expect(page.locator(".flash")).to_contain_text("Wrong email or password")
    sign_in(page, live_console, user.email, NEW)
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.goto(link)
    expect(page.locator("[data-testid=reset-unusable]")).to_contain_text("already used")
    assert watched.violations() == []
    page.close()


def test_pages_work_under_the_content_security_policy(
    browser: Browser, live_console: str, settings: Settings
) -> None:
    base = live_console
    add_provider("spare", "http://127.0.0.1:9/v1", "sk-spare", settings.secret_key)
    add_model_route("acme/one", "spare", 1_000_000_000, 2_000_000_000)
    add_model_route("acme/two", "spare", 1_000_000_000, 2_000_000_000)
    create_user("op@example.com", OLD, role="operator")
    adjust(create_user("cust@example.com", OLD).id, 1_000_000_000, "test top-up")

    customer = Watched(browser)
    page = customer.page
    sign_in(page, base, "cust@example.com", OLD)
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("#chart canvas").first).to_be_attached()  # uPlot drew the chart
    page.goto(base + "/keys")
    page.fill("input[name=name]", "csp key")
    page.click("button:has-text('Create key')")  # an htmx POST
    secret = page.locator("[data-testid=new-secret]")
    expect(secret).to_be_visible()
    assert page.url.endswith("/keys")
    secret.focus()
    assert page.evaluate("() => document.activeElement.selectionEnd") == len(secret.input_value())
    page.goto(base + "/docs")
    page.select_option("select[name=model]", "acme/two")  # submits itself
    page.wait_for_url("**model=acme%2Ftwo")
    page.goto(base + "/models")
    page.fill("input[name=q]", "two")  # htmx search as you type
    expect(page.locator("#models-table")).not_to_contain_text("acme/one")

    operator = Watched(browser)
    op = operator.page
    sign_in(op, base, "op@example.com", OLD)
    op.goto(base + "/operator/users")
    op.fill("input[name=q]", "cust")
    expect(op.locator("#users-table")).not_to_contain_text("op@example.com")
    op.goto(base + "/operator/providers")
    op.once("dialog", lambda dialog: dialog.dismiss())
    op.locator("button:has-text('Delete')").first.click()
    op.wait_for_timeout(300)
    assert Provider.select().count() == 1  # the confirmation said no
    op.once("dialog", lambda dialog: dialog.accept())
    op.locator("button:has-text('Delete')").first.click()
    expect(op.locator(".flash")).to_be_visible()
    assert Provider.select().count() == 0
    shot(op, "21-csp-providers")
    assert customer.violations() == [] and operator.violations() == []
    page.close()
    op.close()
