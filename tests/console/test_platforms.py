"""Regional catalogues in the console: the operator limits a model to platforms in its price row, a
customer switches the Models page between platforms, and creates a cn key in the browser that the
data plane then serves only cn's catalogue."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from openai import NotFoundError, OpenAI
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from console import create_app
from dataplane.app import create_app as create_dataplane
from shared.accounts import create_user
from shared.catalog import add_model_route, add_provider
from shared.catalog_admin import set_model_platforms
from shared.models import ApiKey, CatalogModel, User
from shared.settings import Settings
from tests.console.conftest import Console, text
from tests.support.servers import ServerThread

EVERYWHERE = "acme/world"
CN_ONLY = "acme/cn"
PASSWORD = "a long enough password"
ROW = {"input_price": "1", "output_price": "2", "cached_input_price": "", "modality": "chat", "enabled": "y"}


@pytest.fixture
def models(settings: Settings) -> dict[str, CatalogModel]:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    for slug in (EVERYWHERE, CN_ONLY):
        add_model_route(slug, "up", 1_000_000_000, 2_000_000_000)
    return {m.slug: m for m in CatalogModel.select()}


def test_the_operator_limits_a_model_in_its_row(
    web: Console, operator: User, models: dict[str, CatalogModel]
) -> None:
    model = models[CN_ONLY]
    web.login_as(operator)
    row = text(web.get(f"/operator/models/{model.id}/edit", headers={"HX-Request": "true"}))
    assert row.count('name="platforms"') == 2 and row.count("checked") >= 2  # on every platform

    refused = web.post(f"/operator/models/{model.id}", {**ROW, "platforms_listed": "1"}, htmx=True)
    assert "choose at least one of intl, cn" in text(refused)
    assert CatalogModel.get_by_id(model.id).platforms is None

    saved = web.post(
        f"/operator/models/{model.id}", {**ROW, "platforms_listed": "1", "platforms": ["cn"]}, htmx=True
    )
    assert "cn only" in text(saved)
    assert CatalogModel.get_by_id(model.id).platforms == ["cn"]
    web.post(f"/operator/models/{model.id}", {**ROW, "input_price": "3"}, htmx=True)  # an older page
    assert CatalogModel.get_by_id(model.id).platforms == ["cn"]


def test_the_models_page_switches_between_platforms(web: Console, models: dict[str, CatalogModel]) -> None:
    set_model_platforms(models[CN_ONLY], ["cn"])

    international = text(web.get("/models"))
    china = text(web.get("/models?platform=cn"))

    assert EVERYWHERE in international and CN_ONLY not in international
    assert EVERYWHERE in china and CN_ONLY in china
    assert 'value="cn" selected' in china
    assert CN_ONLY not in text(web.get("/models?platform=mars"))  # an unknown one shows the default


@pytest.fixture
def stack(settings: Settings, models: dict[str, CatalogModel]) -> Iterator[tuple[str, str]]:
    """The data plane and the console on loopback ports: (console URL, data plane URL).

    The cn model is limited to cn, the other to intl: a cn key sees exactly one of them.
    """
    set_model_platforms(models[CN_ONLY], ["cn"])
    set_model_platforms(models[EVERYWHERE], ["intl"])
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        console = create_app(dataclasses.replace(settings, public_base_url=gateway.url))
        server = make_server("127.0.0.1", 0, console, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", gateway.url
        finally:
            server.shutdown()
            thread.join(5)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_customer_creates_a_cn_key_in_the_browser(browser: Browser, stack: tuple[str, str]) -> None:
    console_url, gateway_url = stack
    create_user("lin@example.com", PASSWORD)
    page = browser.new_page()
    page.goto(console_url + "/login")
    page.fill("input[name=email]", "lin@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.goto(console_url + "/keys")

    page.fill("input[name=name]", "shanghai")
    page.select_option("select[name=platform]", "cn")
    page.click("button:has-text('Create key')")

    secret = page.locator("[data-testid=new-secret]").input_value()
    expect(page.locator("#keys-table [data-testid=key-platform]")).to_have_text("cn")
    assert ApiKey.get(ApiKey.name == "shanghai").platform == "cn"
    client = OpenAI(base_url=gateway_url + "/v1", api_key=secret, max_retries=0)
    assert [m.id for m in client.models.list()] == [CN_ONLY]
    with pytest.raises(NotFoundError):
        client.chat.completions.create(model=EVERYWHERE, messages=[{"role": "user", "content": "hi"}])
