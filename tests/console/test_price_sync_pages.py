"""The price-sync forms without a browser: CSRF, clear errors naming the field, operators only,
and the manual edit's actor. SQLite only: the pricing code runs on both in tests/shared/."""

from __future__ import annotations

import pytest

from shared.catalog import add_model_route, add_provider
from shared.models import CatalogModel, PriceVersion, Route, User
from shared.pricing import settings as price_settings
from shared.settings import Settings
from tests.console.conftest import Console, text


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def signed_in(web: Console, operator: User) -> Console:
    web.login_as(operator)
    return web


def test_forms_need_the_csrf_token(signed_in: Console) -> None:
    response = signed_in.client.post("/operator/prices/threshold", data={"threshold": "5"})

    assert response.status_code == 400
    assert price_settings.threshold_pct() == 20


def test_bad_input_is_refused_naming_the_field(signed_in: Console) -> None:
    bad_threshold = signed_in.post("/operator/prices/threshold", {"threshold": "lots"})
    bad_step = signed_in.post("/operator/prices/markup", {"scope": "global", "percent": "5", "step": "0"})
    bad_source = signed_in.post("/operator/prices/sources", {"sources": "openrouter"})
    unnamed = signed_in.post("/operator/prices/markup", {"scope": "model", "percent": "5"}, htmx=True)

    assert (bad_threshold.status_code, bad_step.status_code, bad_source.status_code) == (400, 400, 400)
    assert "threshold: must be a number of percent" in text(bad_threshold)
    assert "step: must be at least 1 nano-USD" in text(bad_step)
    assert "openrouter needs an http(s) URL" in text(bad_source)
    assert unnamed.status_code == 200 and "name: name the model the rule is for" in text(unnamed)
    assert not price_settings.configured() and price_settings.rules().models == {}
    assert signed_in.post("/operator/prices/changes/99/approve").status_code == 404


def test_customers_cannot_sync(web: Console, customer: User) -> None:
    web.login_as(customer)

    assert web.post("/operator/prices/sync").status_code == 403


def test_settings_saved_from_the_console(signed_in: Console, settings: Settings) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    route = add_model_route("mini", "up", 1, 1, upstream_model="gpt-4o-mini")

    signed_in.post(
        "/operator/prices/markup", {"scope": "provider", "name": "up", "percent": "12.5", "fixed": "0.01"}
    )
    signed_in.post("/operator/prices/threshold", {"threshold": "5"})
    signed_in.post("/operator/prices/sources", {"sources": "provider\ngenai-prices\n"})
    signed_in.post(
        f"/operator/models/{route.model_id}/pin".replace("models", "prices/models"), {"pinned": "1"}
    )
    signed_in.post(f"/operator/prices/routes/{route.id}/match", {"entry": "openai/gpt-4o"})

    rule = price_settings.rules().providers["up"]
    assert (str(rule.markup_pct), rule.fixed) == ("12.5", 10_000_000)
    assert price_settings.threshold_pct() == 5
    assert [s.kind for s in price_settings.sources()] == ["provider", "genai-prices"]
    assert CatalogModel.get_by_id(route.model_id).prices_pinned is True
    assert Route.get_by_id(route.id).price_match == "openai/gpt-4o"


def test_an_inline_price_edit_is_a_manual_version_by_the_operator(
    signed_in: Console, settings: Settings, operator: User
) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    model_id = add_model_route("mini", "up", 1_000_000_000, 2_000_000_000).model_id

    form = {"input_price": "1.25", "output_price": "2", "enabled": "y", "modality": "chat"}
    signed_in.post(f"/operator/models/{model_id}", form)

    latest = PriceVersion.select().order_by(PriceVersion.id.desc()).get()
    assert (latest.source, latest.actor, latest.prices["input"]) == ("manual", operator.email, 1_250_000_000)
    assert latest.old_prices["input"] == 1_000_000_000
