"""Chat completions through the official OpenAI SDK, billed exactly."""

from __future__ import annotations

from shared import billing
from tests.dataplane.helpers import CHAT_MODEL, Customer, balance, charges, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "Say hello"}]


def test_non_streaming_chat_is_relayed_and_billed_exactly(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="Hello there", usage=(12, 7)))
    client = alice.client(gateway.url)

    completion = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert completion.choices[0].message.content == "Hello there"
    assert completion.usage is not None and completion.usage.total_tokens == 19
    forwarded = upstream.requests[-1]
    assert forwarded.body["model"] == "up-chat"
    assert forwarded.headers["authorization"] == "Bearer upstream-key-alpha"
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens) == (12, 7)
    assert record.charge == 12 * 1_000 + 7 * 2_000
    assert record.cost == record.charge  # costs default to the sale prices
    assert (record.status, record.stream, record.provider, record.usage_source) == (
        "ok",
        False,
        "alpha",
        "upstream",
    )
    assert record.request_id == completion._request_id
    assert charges(alice.user_id) == [26_000]


def test_streaming_chat_ends_with_done_and_is_billed_from_upstream_usage(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two three", usage=(20, 3)))
    client = alice.client(gateway.url)

    chunks = list(client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True))

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert all(c.choices for c in chunks), "the usage-only chunk must be stripped when not asked for"
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens, record.stream) == (20, 3, True)
    assert record.charge == 20 * 1_000 + 3 * 2_000
    assert record.ttft_ms is not None


def test_stream_usage_chunk_is_kept_when_the_client_asks(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="hi", usage=(5, 1)))
    client = alice.client(gateway.url)

    chunks = list(
        client.chat.completions.create(
            model=CHAT_MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )

    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 6


def test_balance_and_ledger_stay_exact_over_many_requests(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.default = Reply(usage=(100, 50))
    client = alice.client(gateway.url)
    for i in range(5):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=bool(i % 2))

    usage_for(5)
    each = 100 * 1_000 + 50 * 2_000
    assert charges(alice.user_id) == [each] * 5
    gateway.stop()  # leases are given back at shutdown
    assert balance(alice.user_id) == 10_000_000_000 - 5 * each
    assert billing.reconcile() == []
