"""Streams that stall, break or are cut by the client: keep-alives, error events, fair billing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]
# What a stream without usage bills for HELLO's prompt: "hello" is 2 tokens, plus 4 per message.
COUNTED_PROMPT = 6


class _Recording(httpx.HTTPTransport):
    """An httpx transport that keeps every byte of the response bodies the client reads."""

    def __init__(self) -> None:
        super().__init__()
        self.received = bytearray()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.stream = _Tee(response.stream, self.received)  # type: ignore[arg-type]
        return response


class _Tee(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, sink: bytearray) -> None:
        self.stream = stream
        self.sink = sink

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            self.sink.extend(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.close()


def _stream_lines(gateway: ServerThread, customer: Customer, **body: object) -> list[str]:
    payload = {"model": CHAT_MODEL, "messages": HELLO, "stream": True, **body}
    headers = {"authorization": f"Bearer {customer.secret}"}
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=payload, headers=headers, timeout=10
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
        assert r.headers["x-request-id"]
        return [line for line in r.iter_lines() if line]


def test_keepalive_comments_flow_while_the_upstream_is_silent(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway(keepalive_interval_s=0.05)
    upstream.script(Reply(text="late but fine", stall_before_s=0.4))

    lines = _stream_lines(gateway, alice)

    assert lines.count(": keep-alive") >= 3
    assert lines.index(": keep-alive") < next(i for i, line in enumerate(lines) if line.startswith("data: {"))
    assert lines[-1] == "data: [DONE]"


def test_sdk_ignores_keepalives_mid_stream(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway(keepalive_interval_s=0.05)
    upstream.script(Reply(text="a b c d", stall_after=2, stall_s=0.3))
    recording = _Recording()

    with httpx.Client(transport=recording) as http_client:
        chunks = list(
            alice.client(gateway.url, http_client=http_client).chat.completions.create(
                model=CHAT_MODEL, messages=HELLO, stream=True
            )
        )

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a b c d"
    # The SDK really read keep-alives in the middle of the stream (the upstream went quiet after "a").
    raw = recording.received.decode()
    assert ": keep-alive" in raw[raw.index('"content":"a"') : raw.index('"content":" b"')]


def test_upstream_drop_mid_stream_becomes_an_error_event_and_bills_what_was_delivered(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two six ten", drop_after=3))

    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in alice.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL, messages=HELLO, stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "one two"
    assert caught.value.code == "upstream_error"
    [record] = usage_for(1)
    assert (record.status, record.usage_source, record.completion_tokens) == ("partial", "counted", 2)
    assert record.charge == record.prompt_tokens * 1_000 + 2 * 2_000 > 0
    assert record.prompt_tokens == COUNTED_PROMPT
    assert charges(alice.user_id) == [record.charge]


def test_upstream_error_event_mid_stream_is_relayed_without_done(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two three", error_after=2))

    lines = _stream_lines(gateway, alice)

    assert lines[-1].startswith('data: {"error":')
    assert "data: [DONE]" not in lines
    assert "the model crashed" in lines[-1]
    # "one" reached the client before the error: billed as a partial reply, counted from the text.
    [record] = usage_for(1)
    assert (record.status, record.usage_source, record.http_status) == ("partial", "counted", 200)
    assert (record.prompt_tokens, record.completion_tokens) == (COUNTED_PROMPT, 1)
    assert record.error == "the model crashed"
    assert record.charge == COUNTED_PROMPT * 1_000 + 1 * 2_000
    assert charges(alice.user_id) == [record.charge]


def test_a_stream_the_upstream_ends_too_soon_is_an_error_not_a_clean_end(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    # The upstream closes the stream cleanly after "one": no finish reason, no usage, no [DONE].
    upstream.script(Reply(text="one two three", end_after=2))

    lines = _stream_lines(gateway, alice)

    assert "data: [DONE]" not in lines
    assert lines[-1].startswith('data: {"error":')
    assert "ended the stream early" in lines[-1]
    [record] = usage_for(1)
    assert (record.status, record.usage_source, record.completion_tokens) == ("partial", "counted", 1)
    assert record.charge == COUNTED_PROMPT * 1_000 + 1 * 2_000
    assert charges(alice.user_id) == [record.charge]


def test_stream_without_usage_is_billed_from_the_delivered_text(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="Hello there friend", usage=None))

    text = "".join(
        c.choices[0].delta.content or ""
        for c in alice.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL, messages=HELLO, stream=True
        )
    )

    assert text == "Hello there friend"
    [record] = usage_for(1)
    # "Hello" → 2, " there" → 2, " friend" → 2 (four ASCII characters per token, rounded up per delta)
    assert (record.usage_source, record.completion_tokens, record.status) == ("counted", 6, "ok")
    assert record.charge == record.prompt_tokens * 1_000 + 6 * 2_000
    assert record.prompt_tokens == COUNTED_PROMPT
    assert charges(alice.user_id) == [record.charge]


def test_stream_cut_by_the_client_is_billed_for_what_was_delivered(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    # Two words go out, then the upstream goes quiet; the client reads them and hangs up.
    upstream.script(Reply(pieces=["abc", " de", " fg", " hi"], stall_after=3, stall_s=30))
    payload = {"model": CHAT_MODEL, "messages": HELLO, "stream": True}
    headers = {"authorization": f"Bearer {alice.secret}"}

    seen = 0
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=payload, headers=headers
    ) as response:
        for line in response.iter_lines():
            seen += line.startswith("data: {")
            if seen == 3:
                break

    [record] = usage_for(1)
    assert (record.status, record.http_status, record.usage_source) == ("partial", 499, "counted")
    assert record.completion_tokens == 2  # "abc" and " de": one token each
    assert record.charge == record.prompt_tokens * 1_000 + 2 * 2_000
    assert record.prompt_tokens == COUNTED_PROMPT
    assert charges(alice.user_id) == [record.charge]
