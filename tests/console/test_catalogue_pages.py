"""The Models page's filters and sort (plain GET and htmx), and the page of one model."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from shared.catalog import add_model_route, add_provider
from shared.models import CatalogModel
from shared.settings import Settings
from tests.console.conftest import Console, text

VISION, CHEAP, IMAGE, VOICE = "acme/vision-1", "acme/cheap-1", "pix/draw-1", "acme/voice-1"


@pytest.fixture
def models(settings: Settings) -> None:
    add_provider("alpha", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_provider("beta", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route(
        VISION, "alpha", 3_000_000_000, 15_000_000_000, context_length=200_000,
        capabilities=["tools", "vision", "streaming"],
    )  # fmt: skip
    add_model_route(VISION, "beta", 3_000_000_000, 15_000_000_000)
    add_model_route(CHEAP, "alpha", 150_000_000, 600_000_000, context_length=16_000, capabilities=["tools"])
    add_model_route(IMAGE, "beta", 0, 0, modality="image", meters={"image": 40_000_000})
    add_model_route(VOICE, "alpha", 0, 0, modality="speech", meters={"characters": 15_000_000})
    CatalogModel.update(max_output_tokens=8_192).where(CatalogModel.slug == VISION).execute()
    CatalogModel.update(created_at=dt.datetime(2020, 1, 1)).where(CatalogModel.slug == CHEAP).execute()


def _rows(web: Console, query: str, htmx: bool = False) -> list[str]:
    headers = {"HX-Request": "true"} if htmx else {}
    response = web.get(f"/models{query}", headers=headers)
    assert response.status_code == 200
    return re.findall(r'<tr data-model="([^"]+)"', text(response))


@pytest.mark.usefixtures("models")
def test_filters_narrow_the_models_page(web: Console) -> None:
    assert _rows(web, "") == [CHEAP, VISION, VOICE, IMAGE]
    assert _rows(web, "?modality=chat") == [CHEAP, VISION]
    assert _rows(web, "?provider=beta") == [VISION, IMAGE]
    assert _rows(web, "?capability=tools&capability=vision") == [VISION]
    assert _rows(web, "?q=voice") == [VOICE]
    assert _rows(web, "?modality=chat&max_price=1") == [CHEAP]


@pytest.mark.usefixtures("models")
def test_sorting_and_the_htmx_fragment(web: Console) -> None:
    assert _rows(web, "?modality=chat&sort=price&order=desc") == [VISION, CHEAP]
    assert _rows(web, "?modality=chat&sort=context") == [VISION, CHEAP]
    assert _rows(web, "?modality=chat&sort=newest") == [VISION, CHEAP]
    fragment = text(web.get("/models?provider=alpha&sort=price", headers={"HX-Request": "true"}))
    assert "<form" not in fragment and "<html" not in fragment.lower()
    assert re.findall(r'<tr data-model="([^"]+)"', fragment) == [VOICE, CHEAP, VISION]


@pytest.mark.usefixtures("models")
def test_the_form_keeps_its_choices_and_reports_a_bad_ceiling(web: Console) -> None:
    page = text(web.get("/models?capability=vision&provider=beta&sort=price&max_price=lots"))

    assert re.search(r'value="vision" checked', page)
    assert re.search(r'<option value="beta" selected', page)
    assert re.search(r'<option value="price" selected', page)
    assert "is not a price in USD" in page
    assert re.findall(r'<tr data-model="([^"]+)"', page) == [VISION]  # the ceiling is ignored


@pytest.mark.usefixtures("models")
def test_a_model_has_its_own_page_with_snippets(web: Console, settings: Settings) -> None:
    page = text(web.get(f"/models/{VISION}"))

    assert re.search(r'data-testid="inputs">text, image<', page)
    assert re.search(r'data-testid="context">200,000<', page)
    assert re.search(r'data-testid="max-output">8,192<', page)
    assert re.search(r'data-testid="providers">alpha, beta<', page)
    assert 'data-meter="output"' in page and "$15.00" in page
    assert f"{settings.public_base_url}/v1/chat/completions" in page
    assert f'model="{VISION}"' in page  # the Python snippet names this model
    assert 'data-copy="#curl-chat"' in page


@pytest.mark.usefixtures("models")
def test_each_modality_shows_its_own_endpoint(web: Console, settings: Settings) -> None:
    voice = text(web.get(f"/models/{VOICE}"))
    image = text(web.get(f"/models/{IMAGE}"))

    assert f"{settings.public_base_url}/v1/audio/speech" in voice and f'model="{VOICE}"' in voice
    assert "/chat/completions" not in voice
    assert f"{settings.public_base_url}/v1/images/generations" in image
    assert re.search(r'data-testid="outputs">image<', image)
    assert web.get("/models/acme/nothing").status_code == 404


def test_a_models_list_link_leads_to_the_model_page(web: Console, models: None) -> None:
    page = text(web.get("/models"))

    assert f'href="/models/{VISION}"' in page
