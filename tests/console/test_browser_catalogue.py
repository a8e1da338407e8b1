"""In headless Chromium: a visitor filters the Models page (htmx swaps the table and the URL keeps the
filters) and opens one model's page with its prices, limits and a snippet that copies.

SQLite only, like test_browser.py: the database paths are covered on both backends elsewhere.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from shared.catalog import add_model_route, add_provider
from shared.settings import Settings
from tests.console.test_browser import shot
from tests.console.test_browser_sign_in import Watched

pytestmark = pytest.mark.browser

VISION, CHEAP, IMAGE = "acme/vision-1", "acme/cheap-1", "pix/draw-1"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite only (see the module docstring)."""
    return request.param


def test_visitor_filters_models_and_opens_one(
    browser: Browser, live_console: str, settings: Settings
) -> None:
    add_provider("alpha", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_provider("beta", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route(
        VISION, "alpha", 3_000_000_000, 15_000_000_000, context_length=200_000, capabilities=["vision"]
    )
    add_model_route(CHEAP, "alpha", 150_000_000, 600_000_000, context_length=16_000, capabilities=["tools"])
    add_model_route(IMAGE, "beta", 0, 0, modality="image", meters={"image": 40_000_000})
    watched = Watched(browser)
    page = watched.page
    rows = page.locator("#models-table tr[data-model]")

    page.goto(live_console + "/models")
    expect(rows).to_have_count(3)
    page.select_option("select[name=modality]", "chat")
    expect(rows).to_have_count(2)
    page.check("input[name=capability][value=vision]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-model", VISION)
    expect(page).to_have_url(re.compile(r"capability=vision"))
    page.uncheck("input[name=capability][value=vision]")
    page.fill("input[name=max_price]", "1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-model", CHEAP)
    page.fill("input[name=max_price]", "")
    page.select_option("select[name=sort]", "price")
    page.select_option("select[name=order]", "desc")
    expect(rows.first).to_have_attribute("data-model", VISION)
    shot(page, "catalogue-01-filtered")

    page.click(f"#models-table a:has-text('{VISION}')")

    expect(page.locator("[data-testid=model-slug]")).to_have_text(VISION)
    expect(page.locator("[data-testid=context]")).to_have_text("200,000")
    expect(page.locator("[data-testid=inputs]")).to_have_text("text, image")
    expect(page.locator("[data-meter=output]").first).to_contain_text("15.00")
    expect(page.locator("#py-chat")).to_contain_text(f'model="{VISION}"')
    shot(page, "catalogue-02-model")
    assert watched.violations() == []
