"""`/v1/translations`, `/v1/classifications` and `/v1/ocr` (served by chat models), and `/v1/detections`.

`acme/chat-1` (the `stocked` shop, on an OpenAI provider) costs $1 per 1M input tokens and $2 per
1M output tokens: 1,000 and 2,000 nano-USD a token, billed from the usage the fake reports.
`acme/claude-1` is the same price on an Anthropic provider, so the translation to Messages shows.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared import catalog, utility_models
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

CLAUDE = "acme/claude-1"
SCHEMA_MODEL = "acme/chat-schema"
BLIND_MODEL = "acme/chat-blind"
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def charge(prompt: int, completion: int) -> int:
    return prompt * 1_000 + completion * 2_000


def post(gateway: ServerThread, customer: Customer, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"authorization": f"Bearer {customer.secret}"}
    return httpx.post(f"{gateway.url}/v1{path}", json=body, headers=headers, timeout=15)


@pytest.fixture
def tools(stocked: Shop, upstream: FakeUpstream) -> Shop:
    """Besides the stocked chat model: one on an Anthropic provider, one with schemas, one without vision."""
    key = stocked.settings.secret_key
    catalog.add_provider("claude", upstream.url + "/v1", "sk-ant", key, kind="anthropic")  # type: ignore[attr-defined]
    stocked.model(CLAUDE, "claude", upstream_model="claude-up")
    stocked.model(SCHEMA_MODEL, "alpha", upstream_model="up-schema", capabilities=["json_schema"])
    stocked.model(BLIND_MODEL, "alpha", upstream_model="up-blind", capabilities=["tools"])
    return stocked


@pytest.fixture
def served(tools: Shop, alice: Customer, start_gateway: Callable[..., ServerThread]) -> ServerThread:
    return start_gateway()


def test_translation_with_a_source_language_returns_the_models_text_and_bills_its_tokens(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="Bonjour le monde", usage=(30, 4)))

    reply = post(
        served,
        alice,
        "/translations",
        {
            "model": CHAT_MODEL,
            "text": "Hello world",
            "source_lang": "en",
            "target_lang": "fr",
            "max_tokens": 50,
        },
    )

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "translated_text": "Bonjour le monde",
        "source_lang": "en",
        "target_lang": "fr",
        "model": CHAT_MODEL,
        "usage": {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34},
    }
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "up-chat"
    assert sent.body["max_completion_tokens"] == 50
    system, user = sent.body["messages"]
    assert system["role"] == "system" and "from en to fr" in system["content"]
    assert user == {"role": "user", "content": "Hello world"}
    [record] = usage_for(1)
    assert (record.endpoint, record.model, record.charge) == ("translations", CHAT_MODEL, charge(30, 4))
    assert charges(alice.user_id) == [charge(30, 4)]


def test_translation_without_a_source_language_reads_the_detected_one(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text='```json\n{"source_lang": "German", "translated_text": "Good morning"}\n```'))

    reply = post(
        served,
        alice,
        "/translations",
        {"model": CHAT_MODEL, "text": "Guten Morgen", "target_lang": "English"},
    )

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["translated_text"], body["source_lang"], body["target_lang"]) == (
        "Good morning",
        "German",
        "English",
    )


def test_translation_through_an_anthropic_provider(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="Hola", usage=(12, 2)))

    reply = post(
        served,
        alice,
        "/translations",
        {"model": CLAUDE, "text": "Hi", "source_lang": "en", "target_lang": "es"},
    )

    assert reply.status_code == 200, reply.text
    assert reply.json()["translated_text"] == "Hola"
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages" and sent.body["model"] == "claude-up"
    assert "from en to es" in str(sent.body["system"])
    [record] = usage_for(1)
    assert record.charge == charge(12, 2)


def test_without_a_model_the_operators_model_is_used(
    tools: Shop, upstream: FakeUpstream, alice: Customer, start_gateway: Callable[..., ServerThread]
) -> None:
    utility_models.assign("translations", CLAUDE)
    gateway = start_gateway()
    upstream.script(Reply(text="Ciao"))

    reply = post(gateway, alice, "/translations", {"text": "Hello", "source_lang": "en", "target_lang": "it"})

    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == CLAUDE
    assert upstream.requests[-1].body["model"] == "claude-up"


@SQLITE_ONLY
def test_without_a_model_and_none_assigned_is_400_on_model(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    reply = post(served, alice, "/ocr", {"image_url": "https://images.example/a.png"})

    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "model"
    assert "no model is assigned to /v1/ocr" in reply.json()["error"]["message"]
    assert upstream.requests == []


def test_classification_among_labels_keeps_the_labels_spelling(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(
        Reply(
            text='Sure! {"results": [{"index": 1, "label": "NEGATIVE", "score": 0.8}, '
            '{"index": 0, "label": "positive", "score": 1.4}]}',
            usage=(40, 20),
        )
    )

    reply = post(
        served,
        alice,
        "/classifications",
        {"model": CHAT_MODEL, "input": ["I love it", "I hate it"], "labels": ["Positive", "Negative"]},
    )

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "results": [
            {"index": 0, "label": "Positive", "score": 1.0},
            {"index": 1, "label": "Negative", "score": 0.8},
        ],
        "model": CHAT_MODEL,
        "usage": {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60},
    }
    system, user = upstream.requests[-1].body["messages"]
    assert '["Positive","Negative"]' in system["content"]
    assert user["content"] == '["I love it","I hate it"]'
    assert "response_format" not in upstream.requests[-1].body
    [record] = usage_for(1)
    assert (record.endpoint, record.charge) == ("classifications", charge(40, 20))


def test_classification_without_labels_and_a_json_schema_model(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text='{"results": [{"index": 0, "label": "sports", "score": 0.7}]}'))

    reply = post(served, alice, "/classifications", {"model": SCHEMA_MODEL, "input": "The match ended 2-1"})

    assert reply.status_code == 200, reply.text
    assert reply.json()["results"] == [{"index": 0, "label": "sports", "score": 0.7}]
    response_format = upstream.requests[-1].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["required"] == ["results"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("It is positive.", "not a JSON object"),
        ('{"results": [{"label": "neutral", "score": 0.5}]}', "not one of the labels"),
        ('{"results": []}', "one result for each"),
        ('{"results": [{"label": "positive", "score": "high"}]}', "numeric score"),
    ],
)
def test_an_unreadable_classification_is_502_and_bills_nothing(
    served: ServerThread, upstream: FakeUpstream, alice: Customer, text: str, why: str
) -> None:
    upstream.script(Reply(text=text))

    reply = post(
        served,
        alice,
        "/classifications",
        {"model": CHAT_MODEL, "input": "ok", "labels": ["positive", "negative"]},
    )

    assert reply.status_code == 502
    assert why in reply.json()["error"]["message"]
    [record] = usage_for(1)
    assert (record.status, record.charge) == ("error", 0)
    assert charges(alice.user_id) == []


def test_ocr_of_base64_sends_a_data_url_and_returns_the_text(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="INVOICE 42\nTotal: $10\n", usage=(2_010, 8)))
    encoded = base64.b64encode(PNG).decode()

    reply = post(served, alice, "/ocr", {"model": CHAT_MODEL, "image_b64": encoded})

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "text": "INVOICE 42\nTotal: $10",
        "model": CHAT_MODEL,
        "usage": {"prompt_tokens": 2_010, "completion_tokens": 8, "total_tokens": 2_018},
    }
    _, user = upstream.requests[-1].body["messages"]
    assert user["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{encoded}"},
    }
    [record] = usage_for(1)
    assert (record.endpoint, record.charge) == ("ocr", charge(2_010, 8))


def test_ocr_of_an_image_url(served: ServerThread, upstream: FakeUpstream, alice: Customer) -> None:
    reply = post(served, alice, "/ocr", {"model": CHAT_MODEL, "image_url": "https://images.example/sign.jpg"})

    assert reply.status_code == 200, reply.text
    assert reply.json()["text"] == "Hello from upstream"
    _, user = upstream.requests[-1].body["messages"]
    assert user["content"][1]["image_url"]["url"] == "https://images.example/sign.jpg"


def test_unaffordable_worst_case_is_402_before_the_upstream_is_called(
    tools: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread]
) -> None:
    poor = tools.customer(10_000)  # not even the prompt's bound
    gateway = start_gateway()

    reply = post(
        gateway, poor, "/translations", {"model": CHAT_MODEL, "text": "Hello world", "target_lang": "fr"}
    )

    assert reply.status_code == 402
    assert upstream.requests == []
    assert charges(poor.user_id) == []


def test_a_failing_upstream_bills_nothing(
    served: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(status=500))

    reply = post(served, alice, "/ocr", {"model": CHAT_MODEL, "image_url": "https://images.example/a.png"})

    assert reply.status_code == 502
    [record] = usage_for(1)
    assert (record.status, record.charge) == ("error", 0)
    assert charges(alice.user_id) == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/translations", {"model": CHAT_MODEL, "target_lang": "fr"}, "text"),
        ("/translations", {"model": CHAT_MODEL, "text": "hi"}, "target_lang"),
        ("/translations", {"model": CHAT_MODEL, "text": "hi", "target_lang": "x" * 65}, "target_lang"),
        (
            "/translations",
            {"model": CHAT_MODEL, "text": "hi", "target_lang": "fr", "source_lang": 3},
            "source_lang",
        ),
        ("/translations", {"model": 5, "text": "hi", "target_lang": "fr"}, "model"),
        (
            "/translations",
            {"model": CHAT_MODEL, "text": "hi", "target_lang": "fr", "max_tokens": 0},
            "max_tokens",
        ),
        ("/classifications", {"model": CHAT_MODEL}, "input"),
        ("/classifications", {"model": CHAT_MODEL, "input": []}, "input"),
        ("/classifications", {"model": CHAT_MODEL, "input": ["ok", 1]}, "input"),
        ("/classifications", {"model": CHAT_MODEL, "input": "ok", "labels": []}, "labels"),
        ("/classifications", {"model": CHAT_MODEL, "input": "ok", "labels": ["a", "A"]}, "labels"),
        ("/classifications", {"model": CHAT_MODEL, "input": "ok", "labels": "a"}, "labels"),
        ("/ocr", {"model": CHAT_MODEL}, "image_url"),
        ("/ocr", {"model": CHAT_MODEL, "image_url": "https://a/b.png", "image_b64": "AAAA"}, "image_url"),
        ("/ocr", {"model": CHAT_MODEL, "image_url": "file:///etc/passwd"}, "image_url"),
        ("/ocr", {"model": CHAT_MODEL, "image_b64": "not base64!"}, "image_b64"),
        ("/ocr", {"model": CHAT_MODEL, "image_b64": base64.b64encode(b"plain text").decode()}, "image_b64"),
        ("/ocr", {"model": BLIND_MODEL, "image_url": "https://a/b.png"}, "model"),
        ("/ocr", {"model": "acme/embed-1", "image_url": "https://a/b.png"}, "model"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    served: ServerThread, upstream: FakeUpstream, alice: Customer, path: str, body: dict[str, Any], param: str
) -> None:
    reply = post(served, alice, path, body)

    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param
    assert upstream.requests == []


@SQLITE_ONLY
def test_detections_are_404_saying_no_provider_serves_them(served: ServerThread, alice: Customer) -> None:
    for prefix in ("/v1", "/api/v1", ""):
        reply = httpx.post(
            f"{served.url}{prefix}/detections",
            content=b"--not json--",
            headers={"authorization": f"Bearer {alice.secret}"},
        )

        assert reply.status_code == 404
        error = reply.json()["error"]
        assert error["code"] == "endpoint_not_served" and error["type"] == "invalid_request_error"
        assert "No provider" in error["message"] and "detection" in error["message"]
    assert httpx.post(f"{served.url}/v1/detections", json={}).status_code == 401
