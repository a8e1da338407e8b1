"""Legacy `/v1/completions` with the `openai` SDK: native on an OpenAI route, translated on Anthropic."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from shared import catalog
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

CLAUDE = "acme/claude-1"
CHARGE = 10 * 1_000 + 5 * 2_000


@pytest.fixture
def gateway(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread]
) -> ServerThread:
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("claude", url + "/v1", "sk-ant", stocked.settings.secret_key, kind="anthropic")
    stocked.model(CLAUDE, "claude", upstream_model="claude-test")
    return start_gateway()


@pytest.fixture
def client(gateway: ServerThread, alice: Customer) -> openai.OpenAI:
    return alice.client(gateway.url)


def test_native_fill_in_the_middle_passes_through(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="return a + b"))

    reply = client.completions.create(
        model=CHAT_MODEL, prompt="def add(a, b):\n    ", suffix="\n\nprint(add(1, 2))", max_tokens=20
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/completions"
    assert sent.body == {
        "model": "up-chat",
        "prompt": "def add(a, b):\n    ",
        "suffix": "\n\nprint(add(1, 2))",
        "max_tokens": 20,
    }
    assert reply.choices[0].text == "return a + b"
    [record] = usage_for(1)
    assert (record.endpoint, record.prompt_tokens, record.completion_tokens) == ("completions", 10, 5)
    assert charges(alice.user_id) == [CHARGE]


def test_native_stream_asks_for_usage_and_keeps_it_from_the_client(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two three", usage=(7, 3)))

    chunks = list(client.completions.create(model=CHAT_MODEL, prompt="count:", stream=True))

    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "one two three"
    assert all(c.usage is None for c in chunks)
    [record] = usage_for(1)
    assert (record.stream, record.status) == (True, "ok")
    assert charges(alice.user_id) == [7 * 1_000 + 3 * 2_000]


def test_translated_fill_in_the_middle_on_an_anthropic_route(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="return a + b", usage=(40, 5)))

    reply = client.completions.create(
        model=CLAUDE, prompt="def add(a, b):\n    ", suffix="\n", max_tokens=30, stop=["\n\n"]
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert "only the text that belongs between <prefix> and <suffix>" in sent.body["system"]
    [message] = sent.body["messages"]
    assert message["content"] == [
        {"type": "text", "text": "<prefix>def add(a, b):\n    </prefix><suffix>\n</suffix>"}
    ]
    assert (sent.body["max_tokens"], sent.body["stop_sequences"]) == (30, ["\n\n"])
    assert reply.object == "text_completion" and reply.model == CLAUDE
    assert reply.choices[0].text == "return a + b"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (40, 5)  # type: ignore[union-attr]
    [record] = usage_for(1)
    assert charges(alice.user_id) == [record.charge] == [40 * 1_000 + 5 * 2_000]


def test_translated_stream(client: openai.OpenAI, upstream: FakeUpstream, alice: Customer) -> None:
    upstream.script(Reply(text="alpha beta", usage=(9, 2)))

    chunks = list(
        client.completions.create(
            model=CLAUDE, prompt="say", stream=True, stream_options={"include_usage": True}
        )
    )

    assert "".join(c.choices[0].text for c in chunks if c.choices) == "alpha beta"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    usage_for(1)
    assert charges(alice.user_id) == [9 * 1_000 + 2 * 2_000]


def test_what_chat_cannot_say_is_a_400_on_translated_routes(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    cases = [
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": "a", "echo": True}, "echo"),
        ({"prompt": "a", "logprobs": 2}, "logprobs"),
        ({"prompt": "a", "max_tokens": 2**63}, "max_tokens"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.completions.create(model=CLAUDE, **extra)  # type: ignore[call-overload]
        assert caught.value.body["param"] == param, extra  # type: ignore[index]
    assert upstream.requests == []
    assert charges(alice.user_id) == []
