"""Anthropic's Messages API in front of an OpenAI-compatible provider, with the official `anthropic` SDK."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import httpx
import pytest

from shared.models import UsageRecord
from tests.dataplane.helpers import (
    CHAT_MODEL,
    Customer,
    Shop,
    active_holds,
    affordable_output,
    balance,
    charges,
    usage_for,
)
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]
# What a translated stream without usage bills for HELLO's prompt: "hello" is 2 tokens, plus 4 per message.
COUNTED_PROMPT = 6
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather by city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def claude_client(gateway: ServerThread, customer: Customer, **kwargs: object) -> anthropic.Anthropic:
    """The Anthropic SDK as users configure it: the gateway's URL without /v1."""
    return anthropic.Anthropic(
        base_url=gateway.url, api_key=customer.secret, max_retries=0, timeout=15, **kwargs
    )


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event name, data) of every SSE block; a block without `event:` has name ""."""
    events = []
    for block in response.text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if lines:
            name = next((line[7:] for line in lines if line.startswith("event: ")), "")
            data = "".join(line[6:] for line in lines if line.startswith("data: "))
            events.append((name, data))
    return events


def test_message_is_translated_to_chat_and_back(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="Bonjour", usage=(20, 4), cached_tokens=6))

    message = claude_client(gateway, alice).messages.create(
        model=CHAT_MODEL,
        max_tokens=300,
        system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        messages=HELLO,
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        extra_body={"temperature": 0.2, "top_k": 5},
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
        extra_query={"beta": "true"},
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert (sent.body["model"], sent.body["max_tokens"], sent.body["stop"]) == ("up-chat", 300, ["END"])
    assert (sent.body["temperature"], sent.body["user"]) == (0.2, "u-1")
    assert "top_k" not in sent.body and "system" not in sent.body
    assert "anthropic-beta" not in sent.headers and "anthropic-version" not in sent.headers
    assert sent.headers["authorization"] == "Bearer upstream-key-alpha"
    assert [block.text for block in message.content] == ["Bonjour"]
    assert (message.role, message.model, message.stop_reason) == ("assistant", CHAT_MODEL, "end_turn")
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (14, 6, 4)
    assert message._request_id and message.id.startswith("msg_")
    [record] = usage_for(1)
    assert record.request_id == message._request_id
    assert (record.endpoint, record.prompt_tokens, record.cached_tokens) == ("messages", 20, 6)
    # The test model has no cached price: cached tokens cost the input price.
    assert record.charge == 20 * 1_000 + 4 * 2_000
    assert charges(alice.user_id) == [record.charge]


def test_stream_helper_gets_the_text_and_the_final_message(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two three", usage=(9, 3)))

    with claude_client(gateway, alice).messages.stream(
        model=CHAT_MODEL, max_tokens=100, messages=HELLO
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "one two three"
    assert [block.text for block in final.content] == ["one two three"]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 3)
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    [record] = usage_for(1)
    assert (record.stream, record.usage_source, record.completion_tokens) == (True, "upstream", 3)
    assert record.charge == 9 * 1_000 + 3 * 2_000


def test_stream_wire_format_has_named_events_and_no_done(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway(keepalive_interval_s=0.05)
    upstream.script(Reply(text="a b", stall_before_s=0.3))
    headers = {"x-api-key": alice.secret, "anthropic-version": "2023-06-01"}
    payload = {"model": CHAT_MODEL, "max_tokens": 50, "messages": HELLO, "stream": True}

    response = httpx.post(f"{gateway.url}/v1/messages?beta=true", json=payload, headers=headers, timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert "" not in names and "[DONE]" not in response.text
    assert names[0] == "message_start" and names.count("ping") >= 2
    assert [n for n in names if n != "ping"] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(f'"type":"{name}"' in data for name, data in events)


def test_max_tokens_is_lowered_to_what_the_balance_pays(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(1_000_000)  # $0.001
    gateway = start_gateway()

    raw = claude_client(gateway, customer).messages.with_raw_response.create(
        model=CHAT_MODEL, max_tokens=100_000, messages=HELLO
    )

    lowered = int(raw.headers["x-tollgate-max-tokens-lowered"])
    assert lowered == affordable_output(1_000_000, raw.http_request)
    assert upstream.requests[-1].path == "/v1/chat/completions"
    assert upstream.requests[-1].body["max_tokens"] == lowered
    assert raw.parse().content[0].text == "Hello from upstream"


def test_tool_use_round_trip(gateway: ServerThread, upstream: FakeUpstream, alice: Customer) -> None:
    upstream.script(
        Reply(tool_calls=[{"id": "call_2", "name": "get_weather", "arguments": '{"city":"Rome"}'}])
    )
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "text", "text": "And Rome?"},
            ],
        },
    ]

    message = claude_client(gateway, alice).messages.create(
        model=CHAT_MODEL,
        max_tokens=200,
        messages=history,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )

    sent = upstream.requests[-1].body
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert sent["messages"][2:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "user", "content": "And Rome?"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather by city",
                "parameters": WEATHER_TOOL["input_schema"],
            },
        }
    ]
    assert (sent["tool_choice"], sent["parallel_tool_calls"]) == ("required", False)
    [block] = message.content
    assert (block.type, block.id, block.name, block.input) == (
        "tool_use",
        "call_2",
        "get_weather",
        {"city": "Rome"},
    )
    assert message.stop_reason == "tool_use"


def test_streamed_text_then_tool_call_are_separate_blocks(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    calls = [{"id": "call_7", "name": "get_weather", "arguments": '{"city":"Oslo"}'}]
    upstream.script(Reply(preamble="Checking.", tool_calls=calls, usage=(30, 12)))

    with claude_client(gateway, alice).messages.stream(
        model=CHAT_MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_message()

    text, tool = final.content
    assert (text.type, text.text) == ("text", "Checking.")
    assert (tool.type, tool.id, tool.name, tool.input) == (
        "tool_use",
        "call_7",
        "get_weather",
        {"city": "Oslo"},
    )
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 12


def test_errors_have_anthropic_shape_and_sdk_classes(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    poor = stocked.customer(50_000)
    gateway = start_gateway()
    client = claude_client(gateway, alice)

    with pytest.raises(anthropic.AuthenticationError) as caught:
        claude_client(gateway, Customer(0, 0, "sk-wrong")).messages.create(
            model=CHAT_MODEL, max_tokens=10, messages=HELLO
        )
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert caught.value.body["request_id"] == caught.value.request_id

    with pytest.raises(anthropic.NotFoundError) as caught_404:
        client.messages.create(model="acme/nope", max_tokens=10, messages=HELLO)
    assert caught_404.value.body["error"]["type"] == "not_found_error"
    assert "acme/nope" in caught_404.value.message

    with pytest.raises(anthropic.PaymentRequiredError) as caught_402:
        claude_client(gateway, poor).messages.create(model=CHAT_MODEL, max_tokens=10, messages=HELLO)
    assert caught_402.value.body["error"]["type"] == "billing_error"
    assert caught_402.value.response.headers["x-should-retry"] == "false"

    with pytest.raises(anthropic.BadRequestError) as caught_400:
        client.messages.create(
            model=CHAT_MODEL, max_tokens=10, messages=[{"role": "robot", "content": "no such role"}]
        )
    assert caught_400.value.body["error"]["type"] == "invalid_request_error"
    assert "messages.0" in caught_400.value.message
    assert upstream.requests == []
    assert usage_for(0) == [] and charges(alice.user_id) == []
    gateway.stop()  # every settlement is written by now: none of these requests left a trace
    assert UsageRecord.select().count() == 0
    assert (balance(alice.user_id), balance(poor.user_id)) == (10_000_000_000, 50_000)
    assert active_holds() == 0


def test_missing_max_tokens_and_bad_json_are_400s(gateway: ServerThread, alice: Customer) -> None:
    headers = {"authorization": f"Bearer {alice.secret}", "anthropic-version": "2026-10-21"}

    missing = httpx.post(
        f"{gateway.url}/v1/messages", json={"model": CHAT_MODEL, "messages": HELLO}, headers=headers
    )
    broken = httpx.post(f"{gateway.url}/v1/messages", content=b"{not json", headers=headers)
    unknown = httpx.post(f"{gateway.url}/v1/messages/batches", json={}, headers=headers)

    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "type": "invalid_request_error",
        "message": missing.json()["error"]["message"],
    }
    assert "max_tokens" in missing.json()["error"]["message"]
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"
    assert all(r.json()["type"] == "error" and r.json()["request_id"] for r in (missing, broken, unknown))


def test_x_api_key_auth_like_sdk_1x(gateway: ServerThread, upstream: FakeUpstream, alice: Customer) -> None:
    # What anthropic-python 1.x sends: X-Api-Key and the old version, no Authorization.
    headers = {"X-Api-Key": alice.secret, "anthropic-version": "2023-06-01"}
    payload = {"model": CHAT_MODEL, "max_tokens": 20, "messages": HELLO}

    response = httpx.post(f"{gateway.url}/v1/messages", json=payload, headers=headers, timeout=10)

    assert response.status_code == 200
    assert response.json()["content"] == [{"type": "text", "text": "Hello from upstream"}]
    assert upstream.requests[-1].headers["authorization"] == "Bearer upstream-key-alpha"
    assert "x-api-key" not in upstream.requests[-1].headers


def test_client_cut_stream_is_billed_for_what_was_delivered(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(pieces=["abc", " de", " fg", " hi"], stall_after=3, stall_s=30))
    headers = {"authorization": f"Bearer {alice.secret}", "anthropic-version": "2026-10-21"}
    payload = {"model": CHAT_MODEL, "max_tokens": 50, "messages": HELLO, "stream": True}

    deltas = 0
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=payload, headers=headers) as response:
        for line in response.iter_lines():
            deltas += line == "event: content_block_delta"
            if deltas == 2:
                break

    [record] = usage_for(1)
    assert (record.status, record.http_status, record.usage_source) == ("partial", 499, "counted")
    assert record.completion_tokens == 2  # "abc" and " de": one token each
    assert record.charge == record.prompt_tokens * 1_000 + 2 * 2_000
    assert record.prompt_tokens == COUNTED_PROMPT
    assert charges(alice.user_id) == [record.charge]


def test_upstream_drop_mid_stream_is_an_error_event(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two six ten", drop_after=3))

    received = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude_client(gateway, alice).messages.stream(
            model=CHAT_MODEL, max_tokens=50, messages=HELLO
        ) as stream:
            for text in stream.text_stream:
                received.append(text)

    assert "".join(received) == "one two"
    assert caught.value.body["error"]["type"] == "api_error"
    [record] = usage_for(1)
    assert (record.status, record.completion_tokens) == ("partial", 2)
    assert (record.usage_source, record.prompt_tokens) == ("counted", COUNTED_PROMPT)
    assert record.charge == COUNTED_PROMPT * 1_000 + 2 * 2_000
    assert charges(alice.user_id) == [record.charge]


def test_count_tokens_and_models_in_anthropic_shape(gateway: ServerThread, alice: Customer) -> None:
    client = claude_client(gateway, alice)

    counted = client.messages.count_tokens(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "x" * 400}]
    )
    first_page = client.models.list(limit=1)
    model = client.models.retrieve(CHAT_MODEL)
    openai_shape = httpx.get(f"{gateway.url}/v1/models", headers={"authorization": f"Bearer {alice.secret}"})

    assert 100 <= counted.input_tokens < 120
    assert [m.id for m in first_page.data] == ["acme/chat-1"]
    assert first_page.has_more is True and first_page.last_id == "acme/chat-1"
    assert [m.id for m in client.models.list()] == ["acme/chat-1", "acme/embed-1"]
    assert (model.type, model.id, model.display_name) == ("model", CHAT_MODEL, CHAT_MODEL)
    assert model.created_at.year >= 2024
    assert openai_shape.json()["object"] == "list"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("acme/nope")


def test_rate_limited_key_gets_an_anthropic_429(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    limited = stocked.customer(1_000_000_000, rpm_limit=1)
    gateway = start_gateway()
    client = claude_client(gateway, limited)

    first = client.messages.with_raw_response.create(model=CHAT_MODEL, max_tokens=10, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=CHAT_MODEL, max_tokens=10, messages=HELLO)

    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    # One request per minute, one just made: the next one is free in a minute less the time passed.
    wait_ms = int(caught.value.response.headers["retry-after-ms"])
    assert 55_000 < wait_ms <= 60_000
    assert int(caught.value.response.headers["retry-after"]) == -(-wait_ms // 1000)
    assert caught.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(upstream.requests) == 1
    assert len(usage_for(1)) == 1


def test_images_and_documents_become_openai_parts(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    # $0.05 pays ~50k prompt tokens: holding the 300 KB of base64 as tokens would lower the cap or 402.
    customer = stocked.customer(50_000_000)
    gateway = start_gateway()
    picture = "iVBORw0KGgo" + "A" * 300_000
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": picture}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        },
        {"type": "text", "text": "Describe these."},
    ]
    # A base URL that already ends in /v1 is served too (/v1/v1/messages).
    client = anthropic.Anthropic(base_url=gateway.url + "/v1", api_key=customer.secret, max_retries=0)

    raw = client.messages.with_raw_response.create(
        model=CHAT_MODEL, max_tokens=100, messages=[{"role": "user", "content": content}]
    )

    [message] = upstream.requests[-1].body["messages"]
    assert message["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{picture}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {
            "type": "file",
            "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
        },
        {"type": "text", "text": "Describe these."},
    ]
    assert "x-tollgate-max-tokens-lowered" not in raw.headers
    assert raw.parse().content[0].text == "Hello from upstream"
