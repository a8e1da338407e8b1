"""The public catalogue (filters, sort, detail, 400s, health), `/v1/models` per key, and the documents
for agents (`/llms.txt`, `/llms-full.txt`, `/openapi.json`).

Protocol only: these read the in-memory snapshot, so they run on one database.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import openai
import pytest
from openapi_spec_validator import validate

from dataplane.endpoints import REGISTRY
from shared.models import CatalogModel
from tests.dataplane.helpers import Customer, Shop, eventually
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

VISION = "acme/vision-1"
CHEAP = "acme/cheap-1"
IMAGE = "pix/draw-1"
SPEECH = "acme/voice-1"
EAR = "acme/ear-1"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Protocol only: one database."""
    return request.param


@pytest.fixture
def catalogue(shop: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream) -> Shop:
    """Five models of four modalities on two providers; the vision model is on both."""
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(
        VISION, "alpha", upstream_model="up-vision", input_price=3_000_000_000, output_price=15_000_000_000,
        context_length=200_000, capabilities=["tools", "vision", "streaming"],
    )  # fmt: skip
    shop.model(
        VISION, "beta", upstream_model="up-vision-b", input_price=3_000_000_000, output_price=15_000_000_000
    )
    shop.model(
        CHEAP, "alpha", upstream_model="up-cheap", input_price=150_000_000, output_price=600_000_000,
        context_length=16_000, capabilities=["tools"],
    )  # fmt: skip
    shop.model(
        IMAGE, "beta", upstream_model="up-image", modality="image", input_price=0, output_price=0,
        meters={"image": 40_000_000, "image:1024x1024:hd": 80_000_000},
    )  # fmt: skip
    shop.model(
        SPEECH, "alpha", upstream_model="up-voice", modality="speech", input_price=0, output_price=0,
        meters={"characters": 15_000_000},
    )  # fmt: skip
    shop.model(
        EAR, "alpha", upstream_model="up-ear", modality="transcription", input_price=0, output_price=0,
        meters={"audio_second": 100_000},
    )  # fmt: skip
    CatalogModel.update(max_output_tokens=8_192).where(CatalogModel.slug == VISION).execute()
    CatalogModel.update(created_at=dt.datetime(2020, 1, 1)).where(CatalogModel.slug == CHEAP).execute()
    return shop


@pytest.fixture
def buyer(catalogue: Shop) -> Customer:
    return catalogue.customer(10_000_000_000)


@pytest.fixture
def dataplane(catalogue: Shop, buyer: Customer, start_gateway: object) -> ServerThread:
    return start_gateway()  # type: ignore[operator]


def _ids(gateway: ServerThread, **params: object) -> list[str]:
    response = httpx.get(f"{gateway.url}/api/v1/models", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["data"]]


def test_every_model_lists_its_facts(dataplane: ServerThread) -> None:
    models = {m["id"]: m for m in httpx.get(f"{dataplane.url}/api/v1/models").json()["data"]}

    vision, image, speech, ear = models[VISION], models[IMAGE], models[SPEECH], models[EAR]
    assert (vision["object"], vision["owned_by"], vision["context_length"]) == ("model", "acme", 200_000)
    assert vision["max_output_tokens"] == 8_192
    assert (vision["input_modalities"], vision["output_modalities"]) == (["text", "image"], ["text"])
    assert vision["capabilities"] == ["tools", "vision", "streaming"]
    assert vision["providers"] == ["alpha", "beta"]
    assert vision["health"] == "ok"
    assert {"meter": "output", "label": "Output tokens", "usd": "15.000000000", "per": "1M tokens"} in vision[
        "prices"
    ]
    assert image["output_modalities"] == ["image"] and image["providers"] == ["beta"]
    assert {p["meter"]: p["usd"] for p in image["prices"]}["image:1024x1024:hd"] == "0.080000000"
    assert speech["output_modalities"] == ["audio"]
    assert ear["input_modalities"] == ["audio"]
    assert {p["meter"]: (p["usd"], p["per"]) for p in ear["prices"]}["audio_second"] == (
        "0.000100000",
        "second",
    )


def test_filters_combine_and_accept_repeats_and_commas(dataplane: ServerThread) -> None:
    assert _ids(dataplane, modality="chat") == [CHEAP, VISION]
    assert _ids(dataplane, modality="speech,transcription") == [EAR, SPEECH]
    assert _ids(dataplane, provider="beta") == [VISION, IMAGE]
    assert _ids(dataplane, provider="nobody") == []
    assert _ids(dataplane, capability="tools") == [CHEAP, VISION]
    assert _ids(dataplane, capability=["tools", "vision"]) == [VISION]
    assert _ids(dataplane, q="VOICE") == [SPEECH]
    assert _ids(dataplane, modality="chat", max_price="1") == [CHEAP]
    assert _ids(dataplane, modality="chat", max_price="3") == [CHEAP, VISION]


def test_sorting_by_price_context_and_order(dataplane: ServerThread) -> None:
    chat = {"modality": "chat"}
    assert _ids(dataplane, sort="price", **chat) == [CHEAP, VISION]
    assert _ids(dataplane, sort="price", order="desc", **chat) == [VISION, CHEAP]
    assert _ids(dataplane, sort="context", **chat) == [VISION, CHEAP]  # largest first by default
    assert _ids(dataplane, sort="slug", order="desc")[:2] == [IMAGE, SPEECH]
    assert _ids(dataplane, sort="newest", **chat) == [VISION, CHEAP]  # the cheap one was added in 2020
    assert _ids(dataplane, sort="newest", order="asc", **chat) == [CHEAP, VISION]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"modality": "video"}, "modality"),
        ({"capability": "tools,telepathy"}, "capability"),
        ({"max_price": "cheap"}, "max_price"),
        ({"max_price": "-1"}, "max_price"),
        ({"sort": "popularity"}, "sort"),
        ({"order": "sideways"}, "order"),
    ],
)
def test_bad_filters_are_400_naming_the_param(dataplane: ServerThread, params: dict, param: str) -> None:
    response = httpx.get(f"{dataplane.url}/api/v1/models", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_detail_by_slug_with_a_slash(dataplane: ServerThread) -> None:
    one = httpx.get(f"{dataplane.url}/api/v1/models/{VISION}")
    missing = httpx.get(f"{dataplane.url}/api/v1/models/acme/nothing")

    assert one.status_code == 200
    assert (one.json()["id"], one.json()["providers"], one.json()["health"]) == (
        VISION,
        ["alpha", "beta"],
        "ok",
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_health_shows_a_cooling_model(
    dataplane: ServerThread, buyer: Customer, upstream: FakeUpstream
) -> None:
    upstream.by_model["up-cheap"] = Reply(status=503)
    client = buyer.client(dataplane.url)
    for _ in range(3):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model=CHEAP, messages=HELLO)

    models = {m["id"]: m["health"] for m in httpx.get(f"{dataplane.url}/api/v1/models").json()["data"]}

    assert models[CHEAP] == "cooling" and models[VISION] == "ok"


def test_v1_models_lists_what_the_key_may_use_with_the_same_fields(
    catalogue: Shop, start_gateway: object
) -> None:
    limited = catalogue.customer(1_000_000, models=[VISION, IMAGE])
    gateway = start_gateway()  # type: ignore[operator]
    client = limited.client(gateway.url)

    listed = client.models.list()
    raw = httpx.get(
        f"{gateway.url}/v1/models",
        params={"modality": "image"},
        headers={"Authorization": f"Bearer {limited.secret}"},
    ).json()

    assert [m.id for m in listed] == [VISION, IMAGE]
    first = listed.data[0]
    assert (first.object, first.owned_by, first.created > 0) == ("model", "acme", True)
    assert first.model_extra["providers"] == ["alpha", "beta"]  # type: ignore[index]
    assert first.model_extra["input_modalities"] == ["text", "image"]  # type: ignore[index]
    assert [m["id"] for m in raw["data"]] == [IMAGE]
    assert httpx.get(f"{gateway.url}/v1/models").status_code == 401


def test_llms_txt_is_an_index_for_agents(dataplane: ServerThread, gateway_settings: object) -> None:
    response = httpx.get(f"{dataplane.url}/llms.txt")
    base = gateway_settings.public_base_url  # type: ignore[attr-defined]

    text = response.text
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    assert text.startswith("# Tollgate\n\n> ")
    assert f"Base URL: `{base}/v1`" in text and "Authorization: Bearer" in text
    assert f"]({base}/llms-full.txt)" in text and f"]({base}/openapi.json)" in text
    assert "- `POST /v1/chat/completions`" in text and "- `POST /v1/audio/speech`" in text


def test_llms_full_txt_lists_every_model_with_prices(dataplane: ServerThread) -> None:
    text = httpx.get(f"{dataplane.url}/llms-full.txt").text

    headings = re.findall(r"^### (.+)$", text, flags=re.M)
    assert headings == sorted([VISION, CHEAP, IMAGE, SPEECH, EAR])
    vision = text.split(f"### {VISION}")[1]
    assert "- Capabilities: tools, vision, streaming" in vision
    assert "- Context length: 200000" in vision and "- Providers: alpha, beta" in vision
    assert "  - Output tokens: $15.000000000 per 1M tokens" in vision
    assert "  - Characters: $0.015000000 per 1k characters" in text.split(f"### {SPEECH}")[1]


def test_openapi_document_is_valid_and_lists_every_route(dataplane: ServerThread) -> None:
    response = httpx.get(f"{dataplane.url}/openapi.json")
    spec = response.json()

    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    posted = {path for path, item in spec["paths"].items() if "post" in item}
    expected = {"/v1" + re.sub(r"\{(\w+):\w+\}", r"{\1}", p) for e in REGISTRY for p in e.paths}
    assert expected <= posted
    chat = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert chat["schema"]["properties"]["model"]["enum"] == [CHEAP, VISION]
    speech = spec["paths"]["/v1/audio/speech"]["post"]["requestBody"]["content"]["application/json"]
    assert speech["schema"]["properties"]["model"]["enum"] == [SPEECH]
    upload = spec["paths"]["/v1/audio/transcriptions"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["model"]["enum"] == [EAR]
    assert spec["paths"]["/api/v1/models"]["get"]["security"] == []


def test_agent_documents_follow_the_catalogue(catalogue: Shop, dataplane: ServerThread) -> None:
    before = httpx.get(f"{dataplane.url}/llms-full.txt").text
    catalogue.model("acme/new-1", "alpha", upstream_model="up-new")

    def listed() -> str | None:
        text = httpx.get(f"{dataplane.url}/llms-full.txt").text
        return text if "### acme/new-1" in text else None

    after = eventually(listed, what="llms-full.txt to list the new model")
    spec = eventually(
        lambda: httpx.get(f"{dataplane.url}/openapi.json").json()["paths"]["/v1/chat/completions"],
        what="openapi.json",
    )

    assert "### acme/new-1" not in before and "### acme/new-1" in after
    chat = spec["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["model"]
    assert "acme/new-1" in chat["enum"]
