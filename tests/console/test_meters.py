"""Prices by meter, modalities and capabilities: edited by the operator, shown to customers on the
catalogue page, in the public catalogue JSON and the data plane's /v1/models, used by the docs'
snippets, and shown per request in Usage."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from dataplane.app import create_app as create_dataplane
from shared.accounts import create_key, create_user
from shared.billing import Settlement, post_entry, settle
from shared.catalog import MODALITIES, add_model_route, add_provider
from shared.models import CatalogModel, Group, Route, User
from shared.settings import Settings
from tests.console.conftest import Console, text
from tests.support.servers import ServerThread


@pytest.fixture
def provider(settings: Settings) -> int:
    return add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key).id


def _image_model() -> CatalogModel:
    add_model_route("acme/painter", "up", 0, 0, modality="image", meters={"image": 40_000_000})
    return CatalogModel.get(CatalogModel.slug == "acme/painter")


ROW = {"input_price": "0", "output_price": "0", "cached_input_price": "", "modality": "image", "enabled": "y"}


def test_operator_edits_every_meter_modality_and_capabilities_inline(
    web: Console, operator: User, provider: int
) -> None:
    model = _image_model()
    web.login_as(operator)
    row = text(web.get(f"/operator/models/{model.id}/edit", headers={"HX-Request": "true"}))
    assert ">image=0.04</textarea>" in row  # the stored meters, one METER=USD a line
    assert all(f'value="{m}"' in row for m in MODALITIES) and 'value="json_schema"' in row

    form = {
        **ROW,
        "meters": "image=0.04\nimage:1024x1024:hd=0.08\n\nrequest=0.001",
        "capabilities": ["vision", "tools"],
    }
    saved = web.post(f"/operator/models/{model.id}", form, htmx=True)

    body = text(saved)
    assert saved.status_code == 200 and "<html" not in body and "<textarea" not in body
    assert "Images (1024x1024, hd)" in body and "$0.08" in body and "Requests" in body
    assert 'data-capability="tools"' in body and 'data-capability="vision"' in body
    model = CatalogModel.get_by_id(model.id)
    assert model.prices == {
        "input": 0, "output": 0, "image": 40_000_000, "image:1024x1024:hd": 80_000_000, "request": 1_000_000,
    }  # fmt: skip
    assert model.capabilities == ["tools", "vision"]

    removed = web.post(
        f"/operator/models/{model.id}", {**form, "meters": "image=0.05", "capabilities": []}, htmx=True
    )
    assert removed.status_code == 200
    model = CatalogModel.get_by_id(model.id)
    assert (model.prices, model.capabilities) == ({"input": 0, "output": 0, "image": 50_000_000}, [])


@pytest.mark.parametrize(
    ("meters", "error"),
    [
        ("image=0.04\nimagez=1", "Line 2: unknown meter &#39;imagez&#39;"),
        ("image:giant=1", "Line 1: &#39;giant&#39; in &#39;image:giant&#39; is neither a size"),
        ("image=1e3", "Line 1: image: not an amount in USD"),
        ("image=-1", "Line 1: image: must not be negative"),
        ("image=0.0000000001", "9 decimals"),
        ("image", "Line 1: expected METER=USD"),
        ("input=2", "Line 1: input has a field of its own"),
        ("image=1\nimage=2", "Line 2: image is priced twice"),
    ],
)
def test_bad_meter_lines_are_refused_naming_the_line(
    web: Console, operator: User, provider: int, meters: str, error: str
) -> None:
    model = _image_model()
    web.login_as(operator)

    partial = web.post(f"/operator/models/{model.id}", {**ROW, "meters": meters}, htmx=True)
    page = web.post(f"/operator/models/{model.id}", {**ROW, "meters": meters})

    assert partial.status_code == 200 and error in text(partial) and "<textarea" in text(partial)
    assert page.status_code == 400 and error in text(page)
    assert CatalogModel.get_by_id(model.id).prices == {"input": 0, "output": 0, "image": 40_000_000}


def test_a_row_saved_without_the_meters_field_keeps_them(web: Console, operator: User, provider: int) -> None:
    model = _image_model()
    web.login_as(operator)
    web.post(f"/operator/models/{model.id}", {**ROW, "input_price": "1"}, htmx=True)
    assert CatalogModel.get_by_id(model.id).prices == {
        "input": 1_000_000_000,
        "output": 0,
        "image": 40_000_000,
    }


def test_add_a_route_with_other_meters_and_their_costs(web: Console, operator: User, provider: int) -> None:
    web.login_as(operator)
    form = {"slug": "acme/voice", "provider": str(provider), "modality": "speech", "input_price": "0",
            "output_price": "0", "meters": "characters=0.015\nrequest=0.001",
            "cost_meters": "characters=0.01", "capabilities": ["streaming"], "priority": "0",
            "weight": "1"}  # fmt: skip
    page = text(web.get("/operator/models"))
    assert 'name="meters"' in page and 'name="cost_meters"' in page and "audio_second per second" in page

    bad = web.post("/operator/models", {**form, "cost_meters": "chars=0.01"})
    assert bad.status_code == 400 and "Line 1: unknown meter &#39;chars&#39;" in text(bad)
    assert CatalogModel.select().count() == 0
    assert web.post("/operator/models", form).status_code == 303

    route = Route.select(Route, CatalogModel).join(CatalogModel).get()
    assert route.model.modality == "speech" and route.model.capabilities == ["streaming"]
    assert route.model.prices == {"input": 0, "output": 0, "characters": 15_000_000, "request": 1_000_000}
    # The meter given a cost costs that; the other costs what it sells for.
    assert route.costs == {"input": 0, "output": 0, "characters": 10_000_000, "request": 1_000_000}
    table = text(web.get("/operator/models"))
    assert "Characters: $0.01\n              ($0.015) / 1k characters" in table


def _catalogue() -> None:
    add_model_route("acme/chat", "up", 1_000_000_000, 2_000_000_000, capabilities=["tools", "vision"],
                    meters={"reasoning": 4_000_000_000})  # fmt: skip
    add_model_route("acme/painter", "up", 0, 0, modality="image",
                    meters={"image:1024x1024": 40_000_000, "image:1024x1024:hd": 80_000_000})  # fmt: skip
    add_model_route("acme/ears", "up", 0, 0, modality="transcription", meters={"audio_second": 100_000})
    add_model_route("acme/voice", "up", 0, 0, modality="speech", meters={"characters": 15_000_000})
    add_model_route("acme/guard", "up", 0, 0, modality="moderation", meters={"request": 0})
    add_model_route("acme/ranker", "up", 0, 0, modality="rerank", meters={"request": 2_000_000})
    add_model_route("acme/embed", "up", 20_000_000, 0, modality="embedding")


def test_catalogue_page_shows_every_meter_as_the_group_pays_it(
    web: Console, customer: User, provider: int
) -> None:
    _catalogue()
    vip = Group.create(name="vip", multiplier_ppm=1_500_000)
    User.update(group=vip.id).where(User.id == customer.id).execute()
    web.login_as(customer)

    page = text(web.get("/models"))

    assert 'Images (1024x1024, hd)</span>\n    <span class="meter-price">$0.12</span> / image' in page
    assert 'Audio seconds</span>\n    <span class="meter-price">$0.00015</span> / second' in page
    assert '<span class="meter-price">$0.0225</span> / 1k characters' in page
    assert 'Reasoning tokens</span>\n    <span class="meter-price">$6.00</span> / 1M tokens' in page
    assert 'data-capability="vision"' in page
    for label in ("Images", "Transcription", "Speech", "Moderation", "Rerank", "Embeddings"):
        assert f">{label}</option>" in page


@pytest.mark.parametrize(
    ("modality", "slug"),
    [("image", "acme/painter"), ("transcription", "acme/ears"), ("speech", "acme/voice"),
     ("moderation", "acme/guard"), ("rerank", "acme/ranker"), ("embedding", "acme/embed")],
)  # fmt: skip
def test_catalogue_filters_by_every_modality(web: Console, provider: int, modality: str, slug: str) -> None:
    _catalogue()
    listed = text(web.get(f"/models?modality={modality}", headers={"HX-Request": "true"}))
    assert listed.count("<tr data-model=") == 1 and f'data-model="{slug}"' in listed


def test_public_catalogue_json_lists_every_meter_modality_and_capabilities(
    settings: Settings, provider: int
) -> None:
    _catalogue()
    user = create_user("carol@example.com")
    _, secret = create_key(user)
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        everything = httpx.get(f"{gateway.url}/api/v1/models").json()["data"]
        images = httpx.get(f"{gateway.url}/api/v1/models", params={"modality": "image"}).json()["data"]
        by_modality = {
            m: [
                x["id"]
                for x in httpx.get(f"{gateway.url}/api/v1/models", params={"modality": m}).json()["data"]
            ]
            for m in MODALITIES
        }
        unknown = httpx.get(f"{gateway.url}/api/v1/models", params={"modality": "hologram"})
        sdk = {m.id: m for m in openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=secret).models.list()}

    [painter] = images
    assert painter["modality"] == "image" and painter["capabilities"] == []
    assert painter["prices"] == [
        {"meter": "input", "label": "Input tokens", "usd": "0.000000000", "per": "1M tokens"},
        {"meter": "output", "label": "Output tokens", "usd": "0.000000000", "per": "1M tokens"},
        {"meter": "image:1024x1024", "label": "Images (1024x1024)", "usd": "0.040000000", "per": "image"},
        {
            "meter": "image:1024x1024:hd",
            "label": "Images (1024x1024, hd)",
            "usd": "0.080000000",
            "per": "image",
        },
    ]
    chat = next(m for m in everything if m["id"] == "acme/chat")
    assert chat["capabilities"] == ["tools", "vision"]
    assert chat["pricing"] == {"input_per_1m": "1.000000000", "cached_input_per_1m": "1.000000000",
                               "output_per_1m": "2.000000000"}  # fmt: skip
    assert {
        "meter": "reasoning",
        "label": "Reasoning tokens",
        "usd": "4.000000000",
        "per": "1M tokens",
    } in chat["prices"]
    assert by_modality == {"chat": ["acme/chat"], "embedding": ["acme/embed"], "image": ["acme/painter"],
                           "transcription": ["acme/ears"], "speech": ["acme/voice"],
                           "moderation": ["acme/guard"], "rerank": ["acme/ranker"]}  # fmt: skip
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "modality"
    voice = sdk["acme/voice"]
    assert (voice.object, voice.owned_by, voice.created > 0) == ("model", "acme", True)
    assert (
        voice.model_extra["modality"] == "speech"
        and voice.model_extra["prices"][-1]["per"] == "1k characters"
    )
    assert sdk["acme/chat"].model_extra["capabilities"] == ["tools", "vision"]


def test_docs_fill_each_endpoint_with_a_model_of_its_modality(
    web: Console, settings: Settings, provider: int
) -> None:
    _catalogue()
    add_model_route("acme/reader", "up", 1, 1, capabilities=["vision"])

    body = text(web.get("/docs"))

    api = f"{settings.public_base_url}/v1"
    assert (
        f"{api}/images/generations" in body
        and f"{api}/images/edits" in body
        and f"{api}/images/variations" in body
    )
    assert 'client.images.generate(\n    model="acme/painter"' in body and '-F model="acme/painter"' in body
    assert (
        'transcriptions.create(model="acme/ears"' in body and 'translations.create(model="acme/ears"' in body
    )
    assert f"{api}/audio/transcriptions" in body and f"{api}/audio/translations" in body
    assert f"{api}/audio/speech" in body and 'model="acme/voice", voice="alloy"' in body
    assert 'moderations.create(model="acme/guard"' in body and f"{api}/moderations" in body
    assert f"{api}/rerank" in body and '"model": "acme/ranker", "query"' in body and '"top_n": 2' in body
    assert f"{api}/translations" in body and '"source_lang": "fr", "target_lang": "en"' in body
    assert f"{api}/classifications" in body and '"labels": ["positive", "negative"]' in body
    assert f"{api}/ocr" in body and '"model": "acme/chat", "image_url"' in body  # a chat model that sees
    assert f"{settings.public_base_url}/v1beta/models/acme/chat:generateContent" in body
    assert "x-goog-api-key" in body and f'base_url="{settings.public_base_url}"' in body
    assert 'model="acme/embed"' in body
    picked = text(web.get("/docs?model=acme/reader"))
    assert 'model="acme/reader",\n    messages' in picked and '"model": "acme/reader", "image_url"' in picked
    assert '<option value="acme/reader" selected>' in picked and '<optgroup label="Images">' in picked


def test_docs_use_placeholders_when_the_operator_has_no_such_model(web: Console, provider: int) -> None:
    add_model_route("acme/chat", "up", 1, 1)
    body = text(web.get("/docs"))
    for placeholder in ("IMAGE_MODEL_ID", "TRANSCRIPTION_MODEL_ID", "SPEECH_MODEL_ID", "MODERATION_MODEL_ID",
                        "RERANK_MODEL_ID", "EMBEDDING_MODEL_ID"):  # fmt: skip
        assert placeholder in body
    assert '"model": "acme/chat", "image_url"' in body  # no model lists vision: OCR falls back to chat


def test_usage_shows_the_meters_of_a_request(web: Console, customer: User) -> None:
    post_entry(customer.id, 10_000_000_000, "deposit", f"dep:{uuid.uuid4().hex}")
    meters = {"input": [40, 0], "audio_second": [3_500, 100_000], "image:1024x1024:hd": [2, 80_000_000]}
    settle([Settlement(request_id=uuid.uuid4().hex, user_id=customer.id, hold_id=None, api_key_id=None,
                       model="acme/studio", charge=160_350_000, meters=meters)])  # fmt: skip
    web.login_as(customer)

    body = text(web.get("/usage"))

    assert "Audio seconds: 3.5 s at $0.0001 / second" in body
    assert "Images (1024x1024, hd): 2 images at $0.08 / image" in body
    assert "Input tokens:" not in body  # the token columns already say so
    assert "Images (1024x1024, hd): 2 images" in text(web.get("/"))  # the dashboard's recent requests
