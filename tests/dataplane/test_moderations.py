"""`POST /v1/moderations` with the official `openai` SDK, on an OpenAI provider (the fake scorer).

Prices: `acme/moderate-1` costs $0.001 per request and $0.50 per 1M input tokens (500 nano-USD a
token); `acme/moderate-free` costs nothing. A call without a model gets the operator's
moderation model, else the catalogue's first by id (`acme/moderate-1`).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from shared import utility_models
from tests.dataplane.helpers import Customer, Shop, balance, charges, usage_for
from tests.support.fake_scoring import FakeScoring, Scored
from tests.support.servers import ServerThread

MODERATE = "acme/moderate-1"
FREE = "acme/moderate-free"
PER_REQUEST = 1_000_000  # $0.001
PER_TOKEN = 500  # $0.50 per 1M tokens
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
IMAGE_INPUT = [
    {"type": "text", "text": "is this ok?"},
    {"type": "image_url", "image_url": {"url": "https://images.example/cat.png"}},
]


@pytest.fixture
def moderated(shop: Shop, scoring: FakeScoring) -> Shop:
    """An OpenAI-kind provider "guard" on the fake scorer with a priced and a free moderation model."""
    shop.provider("guard", scoring.url)  # type: ignore[attr-defined]
    common = {"modality": "moderation", "output_price": 0}
    meters = {"request": PER_REQUEST}
    shop.model(
        MODERATE, "guard", upstream_model="up-moderate", input_price=500_000_000, meters=meters, **common
    )
    shop.model(FREE, "guard", upstream_model="up-free", input_price=0, **common)
    return shop


@pytest.fixture
def buyer(moderated: Shop) -> Customer:
    return moderated.customer(10_000_000_000)


@pytest.fixture
def guard(moderated: Shop, buyer: Customer, start_gateway: Callable[..., ServerThread]) -> ServerThread:
    return start_gateway()


def test_text_without_a_model_gets_the_first_moderation_model_and_bills_request_and_tokens(
    guard: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    result = buyer.client(guard.url).moderations.create(input="hello world")

    assert result.results[0].flagged is False
    assert result.results[0].categories.violence is False
    sent = scoring.requests[-1]
    assert (sent.path, sent.body) == ("/v1/moderations", {"input": "hello world", "model": "up-moderate"})
    assert sent.headers["authorization"] == "Bearer upstream-key-guard"
    [record] = usage_for(1)
    counted = 3  # "hello world": 11 ASCII characters, about 4 a token
    assert (record.model, record.endpoint, record.prompt_tokens) == (MODERATE, "moderations", counted)
    assert record.charge == counted * PER_TOKEN + PER_REQUEST == 1_001_500
    assert record.meters == {"input": [counted, PER_TOKEN * 1_000_000], "request": [1, PER_REQUEST]}
    assert charges(buyer.user_id) == [1_001_500]


def test_image_and_text_parts_bill_the_tokens_the_upstream_reports(
    guard: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    scoring.script(Scored(tokens=50, flagged=True))

    result = buyer.client(guard.url).moderations.create(model=MODERATE, input=IMAGE_INPUT)  # type: ignore[arg-type]

    assert len(result.results) == 1 and result.results[0].flagged is True
    assert result.results[0].categories.violence is True
    assert scoring.requests[-1].body == {"input": IMAGE_INPUT, "model": "up-moderate"}
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.charge) == (50, 50 * PER_TOKEN + PER_REQUEST)


def test_an_array_of_strings_gets_one_result_each(
    guard: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    result = buyer.client(guard.url).moderations.create(model=MODERATE, input=["one", "two", "six"])

    assert len(result.results) == 3
    [record] = usage_for(1)
    assert record.charge == 3 * PER_TOKEN + PER_REQUEST  # one token each, counted


def test_the_operators_moderation_model_is_the_default_and_a_free_model_bills_zero(
    moderated: Shop, scoring: FakeScoring, buyer: Customer, start_gateway: Callable[..., ServerThread]
) -> None:
    utility_models.assign("moderations", FREE)
    gateway = start_gateway()
    before = balance(buyer.user_id)

    result = buyer.client(gateway.url).moderations.create(input="hello world")

    assert result.results[0].flagged is False
    assert scoring.requests[-1].body["model"] == "up-free"
    [record] = usage_for(1)
    assert (record.model, record.status, record.charge) == (FREE, "ok", 0)
    assert record.meters["request"] == [1, 0]
    assert balance(buyer.user_id) == before


@SQLITE_ONLY
def test_no_moderation_model_at_all_asks_for_a_model(
    shop: Shop, start_gateway: Callable[..., ServerThread]
) -> None:
    customer = shop.customer(10_000_000_000)
    gateway = start_gateway()

    with pytest.raises(openai.BadRequestError) as caught:
        customer.client(gateway.url).moderations.create(input="hello")

    assert caught.value.body["param"] == "model"  # type: ignore[index]
    assert "no model is assigned to /v1/moderations" in caught.value.body["message"]  # type: ignore[index]


def test_unaffordable_worst_case_is_402_before_the_upstream_is_called(
    moderated: Shop, scoring: FakeScoring, start_gateway: Callable[..., ServerThread]
) -> None:
    poor = moderated.customer(PER_REQUEST - 1)
    gateway = start_gateway()

    with pytest.raises(openai.APIStatusError) as caught:
        poor.client(gateway.url).moderations.create(model=MODERATE, input="hi")

    assert caught.value.status_code == 402
    assert scoring.requests == []
    assert charges(poor.user_id) == []


def test_a_failing_upstream_bills_nothing(guard: ServerThread, scoring: FakeScoring, buyer: Customer) -> None:
    scoring.script(Scored(status=500))

    with pytest.raises(openai.APIStatusError) as caught:
        buyer.client(guard.url).moderations.create(model=MODERATE, input="hi")

    assert caught.value.status_code == 502
    [record] = usage_for(1)
    assert (record.status, record.charge) == ("error", 0)
    assert charges(buyer.user_id) == []


def test_a_reply_without_results_is_a_502_that_bills_nothing(
    guard: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    scoring.script(Scored(body={"id": "modr-x", "model": "up-moderate"}))

    reply = httpx.post(
        f"{guard.url}/v1/moderations",
        json={"input": "hi"},
        headers={"authorization": f"Bearer {buyer.secret}"},
    )

    assert reply.status_code == 502 and "results" in reply.json()["error"]["message"]
    [record] = usage_for(1)
    assert record.charge == 0 and charges(buyer.user_id) == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": []}, "input"),
        ({"input": 42}, "input"),
        ({"input": ["ok", {"type": "text", "text": "mixed"}]}, "input"),
        ({"input": [{"type": "audio", "audio": "x"}]}, "input[0]"),
        ({"input": [{"type": "text", "text": "ok"}, {"type": "image_url", "image_url": {}}]}, "input[1]"),
        ({"input": ["x"] * 1001}, "input"),
        ({"input": "hi", "model": ""}, "model"),
        ({"input": "hi", "model": 7}, "model"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    guard: ServerThread, scoring: FakeScoring, buyer: Customer, body: dict, param: str
) -> None:
    reply = httpx.post(
        f"{guard.url}/v1/moderations", json=body, headers={"authorization": f"Bearer {buyer.secret}"}
    )

    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == param
    assert scoring.requests == []
