"""Every error class of the catalogue (PROTOCOL §3.4) reaches the SDK as the right exception."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import openai
import pytest

from shared import accounts
from shared.models import ApiKey, User, utcnow
from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, Shop, charges, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]


def test_unknown_key_is_401(gateway: ServerThread) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-tg-nope", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert caught.value.code == "invalid_api_key"
    assert caught.value.request_id and caught.value.request_id.startswith("req_")


def test_missing_key_is_401(gateway: ServerThread) -> None:
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": CHAT_MODEL, "messages": HELLO})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_expired_key_is_401_and_disabled_user_is_403(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    expired = stocked.customer(1_000_000_000, expires_at=utcnow() + dt.timedelta(days=1))
    # Time passes: the key's expiry is now behind us.
    ApiKey.update(expires_at=utcnow() - dt.timedelta(minutes=1)).where(ApiKey.id == expired.key_id).execute()
    blocked = stocked.customer(1_000_000_000)
    accounts.set_user_status(User.get_by_id(blocked.user_id), "disabled")
    gateway = start_gateway()

    with pytest.raises(openai.AuthenticationError) as caught:
        expired.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert "expired" in caught.value.message
    with pytest.raises(openai.PermissionDeniedError) as denied:
        blocked.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert denied.value.code == "account_disabled"
    assert caught.value.code == "invalid_api_key"
    assert upstream.requests == []


def test_model_outside_the_keys_list_is_403(
    stocked: Shop, start_gateway: Callable, upstream: FakeUpstream
) -> None:
    limited = stocked.customer(1_000_000_000, models=[EMBED_MODEL])
    gateway = start_gateway()

    with pytest.raises(openai.PermissionDeniedError) as caught:
        limited.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert caught.value.code == "model_not_allowed"
    assert upstream.requests == []


def test_unknown_model_is_404(gateway: ServerThread, alice: Customer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        alice.client(gateway.url).chat.completions.create(model="acme/nope", messages=HELLO)

    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": CHAT_MODEL}, "messages"),
        ({"model": CHAT_MODEL, "messages": "hi"}, "messages"),
        ({"messages": HELLO}, "model"),
        ({"model": CHAT_MODEL, "messages": HELLO, "max_tokens": -5}, "max_tokens"),
        ({"model": CHAT_MODEL, "messages": HELLO, "max_completion_tokens": "ten"}, "max_completion_tokens"),
        ({"model": CHAT_MODEL, "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": CHAT_MODEL, "messages": [{"content": "no role"}]}, "messages[0]"),
        ({"model": EMBED_MODEL, "messages": HELLO}, "model"),
    ],
)
def test_bad_chat_bodies_are_400_with_param(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream, body: dict, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        alice.client(gateway.url).post("/chat/completions", body=body, cast_to=httpx.Response)

    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert upstream.requests == []


def test_bad_embeddings_input_is_400(gateway: ServerThread, alice: Customer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        alice.client(gateway.url).embeddings.create(model=EMBED_MODEL, input=[], encoding_format="float")

    assert caught.value.param == "input"


def test_malformed_json_is_400_not_422(gateway: ServerThread, alice: Customer) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b"{not json",
        headers={"authorization": f"Bearer {alice.secret}", "content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_body_over_the_limit_is_413(stocked: Shop, alice: Customer, start_gateway: Callable) -> None:
    gateway = start_gateway(max_body_bytes=2_000)

    with pytest.raises(openai.APIStatusError) as caught:
        alice.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "x" * 5_000}]
        )

    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large"


def test_upstream_client_error_keeps_its_status_and_is_not_billed(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(
        Reply(
            status=400, error={"error": {"message": "context too long", "code": "context_length_exceeded"}}
        ),
        Reply(status=422, error={"detail": "bad"}),
    )
    client = alice.client(gateway.url)

    with pytest.raises(openai.BadRequestError) as first:
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert first.value.code == "context_length_exceeded"
    assert "context too long" in first.value.message
    records = usage_for(2)
    assert [(r.status, r.charge, r.http_status) for r in records] == [("error", 0, 400), ("error", 0, 400)]


def test_single_upstream_5xx_is_502(gateway: ServerThread, upstream: FakeUpstream, alice: Customer) -> None:
    upstream.script(Reply(status=500))

    with pytest.raises(openai.InternalServerError) as caught:
        alice.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True)

    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_error"
    [record] = usage_for(1)
    assert (record.status, record.charge, record.http_status) == ("error", 0, 502)


def test_upstream_timeout_is_504(shop: Shop, upstream: FakeUpstream, start_gateway: Callable) -> None:
    shop.provider("alpha", upstream.url, timeout_s=0.3)  # type: ignore[attr-defined]
    shop.model()
    customer = shop.customer(1_000_000_000)
    gateway = start_gateway()
    upstream.script(Reply(latency_s=2.0))

    with pytest.raises(openai.InternalServerError) as caught:
        customer.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"
    [record] = usage_for(1)
    assert (record.status, record.charge, record.http_status) == ("error", 0, 504)
    assert charges(customer.user_id) == []


def test_unknown_path_is_a_json_404(gateway: ServerThread) -> None:
    response = httpx.get(f"{gateway.url}/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["message"]
    assert response.headers["request-id"].startswith("req_")


def test_client_request_id_is_echoed_but_never_reused_for_billing(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    client = alice.client(gateway.url, default_headers={"X-Request-Id": "my-trace-1"})

    first = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=HELLO)
    second = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=HELLO)

    assert first.headers["x-request-id"] == second.headers["x-request-id"] == "my-trace-1"
    assert first.headers["request-id"] != second.headers["request-id"]
    records = usage_for(2)
    assert [r.request_id for r in records] == [first.headers["request-id"], second.headers["request-id"]]
    assert [r.client_request_id for r in records] == ["my-trace-1", "my-trace-1"]
    assert all(r.charge > 0 for r in records)
    assert [r.charge for r in records] == [20_000, 20_000]  # each request billed on its own
    assert charges(alice.user_id) == [20_000, 20_000]


def test_request_ids_sort_in_the_order_the_requests_came(gateway: ServerThread, alice: Customer) -> None:
    client = alice.client(gateway.url)

    create = client.chat.completions.with_raw_response.create
    replies = [create(model=CHAT_MODEL, messages=HELLO) for _ in range(3)]
    ids = [reply.headers["request-id"] for reply in replies]

    assert len(set(ids)) == 3 and all(len(i) == len("req_") + 28 for i in ids)
    assert sorted(ids) == ids  # an operator's "sort by request id" is "sort by time"
    assert [r.request_id for r in usage_for(3)] == ids


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_bug_is_a_500_in_the_apis_shape_with_the_ids_and_costs_nothing(
    gateway: ServerThread, alice: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug with a secret in its message")

    monkeypatch.setattr("dataplane.endpoints.chat.Chat.parse", broken)
    monkeypatch.setattr("dataplane.endpoints.messages.Messages.parse", broken)
    headers = {"authorization": f"Bearer {alice.secret}", "x-request-id": "trace-9"}
    body = {"model": CHAT_MODEL, "messages": HELLO, "max_tokens": 5}

    openai_style = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers)
    anthropic_style = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=headers)

    assert openai_style.status_code == anthropic_style.status_code == 500
    assert openai_style.json()["error"]["code"] == "internal_error"
    assert anthropic_style.json()["type"] == "error"
    assert anthropic_style.json()["error"]["type"] == "api_error"
    for response in (openai_style, anthropic_style):
        assert "secret" not in response.text and "Traceback" not in response.text
        assert response.headers.get_list("request-id")[0].startswith("req_")
        assert len(response.headers.get_list("request-id")) == 1
        assert response.headers["x-request-id"] == "trace-9"
    assert charges(alice.user_id) == []
