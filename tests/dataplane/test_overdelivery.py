"""An upstream that ignores the output cap: the client gets exactly what was paid for, and is billed for it.

The fake streams 2,000 one-token deltas whatever `max_tokens` says; the relay ends the stream
at the cap with the dialect's own "length" end (PROTOCOL: `finish_reason: "length"`, Anthropic's
`max_tokens` stop, a Responses `response.incomplete`).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared import catalog
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, usage_for
from tests.dataplane.test_messages import claude_client
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]
CAP = 50
FLOOD = Reply(text=" ".join(["tok"] * 2_000), usage=(10, 2_000))


def _assert_billed_for_the_cap(customer: Customer) -> None:
    [record] = usage_for(1)
    assert record.completion_tokens == CAP and record.usage_source == "counted"
    assert record.charge == record.prompt_tokens * 1_000 + CAP * 2_000
    assert record.shortfall == 0 and record.status == "ok"
    assert "paid output cap" in record.error


def test_an_openai_stream_is_cut_at_max_tokens_with_finish_reason_length(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.default = FLOOD
    stream = alice.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=CAP, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    deltas = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) == CAP
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == CAP
    _assert_billed_for_the_cap(alice)


def test_a_translated_anthropic_stream_is_cut_with_stop_reason_max_tokens(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.default = FLOOD
    with claude_client(gateway, alice).messages.stream(
        model=CHAT_MODEL, max_tokens=CAP, messages=HELLO
    ) as stream:
        events = list(stream)
        message = stream.get_final_message()

    assert sum(1 for e in events if e.type == "content_block_delta") == CAP
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == " ".join(["tok"] * CAP)
    _assert_billed_for_the_cap(alice)


@pytest.fixture
def native(shop: Shop, upstream: FakeUpstream, start_gateway: Callable) -> tuple[ServerThread, Customer]:
    catalog.add_provider(
        "claude",
        upstream.url + "/v1",
        "sk-ant-test",
        shop.settings.secret_key,
        kind="anthropic",  # type: ignore[attr-defined]
    )
    shop.model(CHAT_MODEL, "claude", upstream_model="claude-test")
    customer = shop.customer(1_000_000_000)
    return start_gateway(), customer


def test_a_native_anthropic_stream_is_cut_and_closed_like_anthropic_closes_it(
    native: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = native
    upstream.default = FLOOD
    with claude_client(gateway, customer).messages.stream(
        model=CHAT_MODEL, max_tokens=CAP, messages=HELLO
    ) as stream:
        events = list(stream)
        message = stream.get_final_message()

    assert sum(1 for e in events if e.type == "content_block_delta") == CAP
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == CAP
    [record] = usage_for(1)
    assert record.completion_tokens == CAP
    assert record.charge == record.prompt_tokens * 1_000 + CAP * 2_000


def test_a_translated_responses_stream_ends_incomplete_at_max_output_tokens(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.default = FLOOD
    events = list(
        alice.client(gateway.url).responses.create(
            model=CHAT_MODEL, input="hello", max_output_tokens=CAP, stream=True
        )
    )

    assert sum(1 for e in events if e.type == "response.output_text.delta") == CAP
    assert events[-1].type == "response.incomplete"
    response = events[-1].response
    assert response.status == "incomplete" and response.usage.output_tokens == CAP
    assert response.output[0].content[0].text == " ".join(["tok"] * CAP)
    _assert_billed_for_the_cap(alice)


def test_an_upstream_that_keeps_to_the_cap_is_never_cut(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    # Word deltas: the text estimate says two tokens for each of these one-token deltas.
    upstream.default = Reply(text=" ".join(["hello"] * CAP), usage=(10, CAP))
    chunks = list(
        alice.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL, messages=HELLO, max_tokens=CAP, stream=True
        )
    )

    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == CAP
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    [record] = usage_for(1)
    assert record.usage_source == "upstream" and record.completion_tokens == CAP
