"""Anthropic's Messages API in front of an Anthropic provider: native passthrough, metered on the side."""

from __future__ import annotations

import json
from collections.abc import Callable

import anthropic
import httpx
import pytest

from shared import catalog
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, affordable_output, charges, usage_for
from tests.dataplane.test_messages import HELLO, WEATHER_TOOL, claude_client, sse_events
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

CACHED_PRICE = 100_000_000  # $0.10 per 1M cached input tokens: 100 nano-USD per token


@pytest.fixture
def native(shop: Shop, upstream: FakeUpstream, start_gateway: Callable) -> tuple[ServerThread, Customer]:
    """A model served by an Anthropic provider, a customer with $1, and the running data plane."""
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("claude", url + "/v1", "sk-ant-test", shop.settings.secret_key, kind="anthropic")
    shop.model(CHAT_MODEL, "claude", upstream_model="claude-test", cached_input_price=CACHED_PRICE)
    customer = shop.customer(1_000_000_000)
    return start_gateway(), customer


def _headers(customer: Customer) -> dict[str, str]:
    return {"authorization": f"Bearer {customer.secret}", "anthropic-version": "2026-10-21"}


def test_body_is_forwarded_with_only_the_model_rewritten_and_cache_tokens_billed(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    upstream.script(Reply(text="Bonjour", usage=(30, 5), cached_tokens=10, cache_write_tokens=4))
    system = [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]

    message = claude_client(gateway, customer).messages.create(
        model=CHAT_MODEL,
        max_tokens=300,
        system=system,
        messages=HELLO,
        metadata={"user_id": "u-1"},
        extra_body={"top_k": 5, "future_field": {"kept": True}},
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14"},
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.body == {
        "model": "claude-test",
        "max_tokens": 300,
        "system": system,
        "messages": HELLO,
        "metadata": {"user_id": "u-1"},
        "top_k": 5,
        "future_field": {"kept": True},
    }
    assert sent.headers["x-api-key"] == "sk-ant-test" and "authorization" not in sent.headers
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14"
    assert sent.headers["anthropic-version"]
    assert message.content[0].text == "Bonjour"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (
        16,
        10,
        4,
    )
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.cached_tokens, record.completion_tokens) == (30, 10, 5)
    # Cache writes are billed as input, cache reads at the cached price.
    assert record.charge == 20 * 1_000 + 10 * 100 + 5 * 2_000
    assert charges(customer.user_id) == [record.charge]


def test_stream_bytes_are_relayed_unchanged_and_metered(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    upstream.script(Reply(text="one two", usage=(12, 7), cached_tokens=2))
    payload = {"model": CHAT_MODEL, "max_tokens": 50, "messages": HELLO, "stream": True}

    response = httpx.post(
        f"{gateway.url}/v1/messages?beta=true", json=payload, headers=_headers(customer), timeout=10
    )

    assert response.status_code == 200 and response.headers["request-id"]
    events = sse_events(response)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    # The upstream's own JSON spacing survives: the bytes were not re-encoded.
    assert events[3][1] == json.dumps(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "one"}}
    )
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.cached_tokens, record.completion_tokens) == (12, 2, 7)
    assert (record.usage_source, record.status) == ("upstream", "ok")
    assert record.charge == 10 * 1_000 + 2 * 100 + 7 * 2_000


def test_stream_helper_with_a_tool_call(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    upstream.script(
        Reply(tool_calls=[{"id": "toolu_9", "name": "get_weather", "arguments": '{"city":"Oslo"}'}])
    )

    with claude_client(gateway, customer).messages.stream(
        model=CHAT_MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_message()

    [tool] = final.content
    assert (tool.type, tool.id, tool.input) == ("tool_use", "toolu_9", {"city": "Oslo"})
    assert final.stop_reason == "tool_use"
    assert upstream.requests[-1].body["tools"] == [WEATHER_TOOL]


def test_upstream_statuses_pass_one_to_one(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    client = claude_client(gateway, customer)
    invalid = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "messages: bad turn order"},
    }
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.script(Reply(status=400, error=invalid), Reply(status=529, error=overloaded))

    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=CHAT_MODEL, max_tokens=10, messages=HELLO)
    with pytest.raises(anthropic.OverloadedError) as busy:
        client.messages.create(model=CHAT_MODEL, max_tokens=10, messages=HELLO)

    assert bad.value.body["error"] == {"type": "invalid_request_error", "message": "messages: bad turn order"}
    assert busy.value.status_code == 529 and busy.value.body["error"]["type"] == "overloaded_error"
    assert [r.status for r in usage_for(2)] == ["error", "error"]
    assert charges(customer.user_id) == []


def test_max_tokens_is_lowered_to_what_the_balance_pays(
    shop: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("claude", url + "/v1", "sk-ant-test", shop.settings.secret_key, kind="anthropic")
    shop.model(CHAT_MODEL, "claude", upstream_model="claude-test")
    customer = shop.customer(1_000_000)  # $0.001
    gateway = start_gateway()

    raw = claude_client(gateway, customer).messages.with_raw_response.create(
        model=CHAT_MODEL, max_tokens=100_000, messages=HELLO
    )

    lowered = int(raw.headers["x-tollgate-max-tokens-lowered"])
    assert upstream.requests[-1].body["max_tokens"] == lowered < 500
    assert lowered == affordable_output(1_000_000, raw.http_request)
    assert raw.parse().content[0].text == "Hello from upstream"


def test_client_cut_stream_bills_real_input_and_delivered_output(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    # Events: message_start, block start, ping, "abc", " de", then silence.
    upstream.script(
        Reply(pieces=["abc", " de", " fg"], usage=(40, 9), cached_tokens=8, stall_after=5, stall_s=30)
    )
    payload = {"model": CHAT_MODEL, "max_tokens": 50, "messages": HELLO, "stream": True}

    deltas = 0
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=payload, headers=_headers(customer)) as r:
        for line in r.iter_lines():
            deltas += line == "event: content_block_delta"
            if deltas == 2:
                break

    [record] = usage_for(1)
    assert (record.status, record.http_status, record.usage_source) == ("partial", 499, "counted")
    assert (record.prompt_tokens, record.cached_tokens, record.completion_tokens) == (40, 8, 2)
    assert record.charge == 32 * 1_000 + 8 * 100 + 2 * 2_000


def test_upstream_error_event_mid_stream_reaches_the_sdk(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    upstream.script(Reply(pieces=["abc", " de", " fg"], usage=(40, 9), error_after=4))

    received = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude_client(gateway, customer).messages.stream(
            model=CHAT_MODEL, max_tokens=50, messages=HELLO
        ) as stream:
            received.extend(stream.text_stream)

    assert received == ["abc"]
    assert caught.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    [record] = usage_for(1)
    assert (record.status, record.prompt_tokens, record.completion_tokens) == ("partial", 40, 1)
    # The real input from message_start, and the one delivered output token.
    assert record.charge == 40 * 1_000 + 1 * 2_000
    assert charges(customer.user_id) == [record.charge]


def test_failover_from_an_overloaded_anthropic_route_to_an_openai_one(
    shop: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("claude", url + "/v1", "sk-ant-test", shop.settings.secret_key, kind="anthropic")
    shop.model(CHAT_MODEL, "claude", upstream_model="claude-test", priority=10)
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "beta", upstream_model="beta-chat", priority=0)
    customer = shop.customer(1_000_000_000)
    gateway = start_gateway()
    upstream.script(Reply(status=529))
    upstream_b.script(Reply(text="from beta", usage=(11, 2)))

    message = claude_client(gateway, customer).messages.create(
        model=CHAT_MODEL, max_tokens=10, messages=HELLO, extra_headers={"anthropic-beta": "x-1"}
    )

    assert message.content[0].text == "from beta"
    assert [r.path for r in upstream.requests] == ["/v1/messages"]
    assert upstream_b.requests[-1].path == "/v1/chat/completions"
    assert "anthropic-beta" not in upstream_b.requests[-1].headers
    [record] = usage_for(1)
    assert (record.provider, record.upstream_model, record.charge) == (
        "beta",
        "beta-chat",
        11 * 1_000 + 2 * 2_000,
    )
