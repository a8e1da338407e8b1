"""Replies name the catalogue's model, never the upstream's: every API, streamed or not, native or translated.

The fake upstream answers with the model it was asked for (`up-chat`, `claude-test`); a customer
must only ever see `acme/chat-1` or `acme/claude-1`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

from dataplane.public_model import PublicModel
from shared import catalog
from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, Shop
from tests.dataplane.test_messages import claude_client, sse_events
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])

CLAUDE = "acme/claude-1"
HELLO = [{"role": "user", "content": "hello"}]
# A text that quotes the upstream's model as JSON: it must reach the customer unchanged.
QUOTING = 'the config says {"model": "up-chat"}'


@pytest.fixture
def gateway(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread]
) -> ServerThread:
    """acme/chat-1 on an OpenAI provider (up-chat), acme/claude-1 on an Anthropic one (claude-test)."""
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("claude", url + "/v1", "sk-ant", stocked.settings.secret_key, kind="anthropic")
    stocked.model(CLAUDE, "claude", upstream_model="claude-test")
    return start_gateway()


@pytest.fixture
def client(gateway: ServerThread, alice: Customer) -> openai.OpenAI:
    return alice.client(gateway.url)


@SQLITE_ONLY
@pytest.mark.parametrize("model", [CHAT_MODEL, CLAUDE], ids=["native", "translated"])
def test_chat_names_the_public_model(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer, model: str
) -> None:
    upstream.default = Reply(text=QUOTING)

    reply = client.chat.completions.create(model=model, messages=HELLO, max_tokens=50)
    chunks = list(
        client.chat.completions.create(
            model=model, messages=HELLO, max_tokens=50, stream=True, stream_options={"include_usage": True}
        )
    )

    assert reply.model == model and reply.choices[0].message.content == QUOTING
    assert chunks and {chunk.model for chunk in chunks} == {model}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == QUOTING


@SQLITE_ONLY
def test_chat_stream_cut_at_the_paid_cap_names_the_public_model(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    # An upstream ignoring the cap: the relay writes the closing chunks itself.
    upstream.default = Reply(text=" ".join(["word"] * 40))

    chunks = list(client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=3, stream=True))

    assert chunks[-1].choices[0].finish_reason == "length"
    assert {chunk.model for chunk in chunks} == {CHAT_MODEL}


@SQLITE_ONLY
@pytest.mark.parametrize("model", [CHAT_MODEL, CLAUDE], ids=["native", "translated"])
def test_completions_name_the_public_model(client: openai.OpenAI, model: str) -> None:
    reply = client.completions.create(model=model, prompt="say hi", max_tokens=20)
    chunks = list(client.completions.create(model=model, prompt="say hi", max_tokens=20, stream=True))

    assert reply.model == model
    assert chunks and {chunk.model for chunk in chunks} == {model}


@SQLITE_ONLY
def test_embeddings_name_the_public_model(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=EMBED_MODEL, input="hello")

    assert reply.model == EMBED_MODEL and reply.data[0].embedding


@SQLITE_ONLY
@pytest.mark.parametrize("model", [CHAT_MODEL, CLAUDE], ids=["native", "translated"])
def test_responses_name_the_public_model(client: openai.OpenAI, model: str) -> None:
    response = client.responses.create(model=model, input="hello", max_output_tokens=50)
    events = list(client.responses.create(model=model, input="hello", max_output_tokens=50, stream=True))

    assert response.model == model
    carrying = [event.response.model for event in events if hasattr(event, "response")]
    assert carrying and set(carrying) == {model}
    assert events[-1].type == "response.completed"
    # The stored response, fetched later, says the same.
    assert client.responses.retrieve(response.id).model == model


@SQLITE_ONLY
@pytest.mark.parametrize("model", [CLAUDE, CHAT_MODEL], ids=["native", "translated"])
def test_messages_name_the_public_model(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream, model: str
) -> None:
    upstream.default = Reply(text=QUOTING)
    claude = claude_client(gateway, alice)

    message = claude.messages.create(model=model, max_tokens=50, messages=HELLO)
    with claude.messages.stream(model=model, max_tokens=50, messages=HELLO) as stream:
        started = [event.message.model for event in stream if event.type == "message_start"]
        text = stream.get_final_message().content[0]

    assert message.model == model and message.content[0].text == QUOTING
    assert started == [model]
    assert text.text == QUOTING


@SQLITE_ONLY
def test_native_message_stream_changes_only_the_model(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream
) -> None:
    headers = {"authorization": f"Bearer {alice.secret}", "anthropic-version": "2023-06-01"}
    body = {"model": CLAUDE, "max_tokens": 50, "messages": HELLO, "stream": True}

    reply = httpx.post(gateway.url + "/v1/messages", json=body, headers=headers, timeout=15)

    events = sse_events(reply)
    start = json.loads(events[0][1])
    assert events[0][0] == "message_start" and start["message"]["model"] == CLAUDE
    assert "claude-test" not in reply.text
    assert [name for name, _ in events][-1] == "message_stop"


def test_public_model_with_spaced_json() -> None:
    """Upstreams that indent their JSON (`"model": "x"`) are rewritten too."""
    public = PublicModel(CHAT_MODEL)
    spaced = b'{\n  "id": "x",\n  "model" : "gpt-4o-2024-08-06",\n  "text": "a \\"model\\": \\"y\\""\n}'

    rewritten = json.loads(public.bytes(spaced))

    assert rewritten == {"id": "x", "model": CHAT_MODEL, "text": 'a "model": "y"'}


@pytest.mark.parametrize(
    "data",
    [
        b'{"id":"x","model":"up-chat","choices":[]}',
        b'{"id":"x","model" : "up-chat","choices":[]}',
        b'{"model":"up-chat","x":{"model":"up-chat"},"t":"{\\"model\\":\\"up-chat\\"}"}',
        b'{"model":"up\\u002dchat"}',
    ],
    ids=["compact", "spaced", "twice-and-quoted", "escaped"],
)
def test_the_rewrite_is_the_same_whether_or_not_the_current_model_is_known(data: bytes) -> None:
    public = PublicModel("acme/chat-1")

    assert public.bytes(data, "up-chat") == public.bytes(data)
    assert json.loads(public.bytes(data, "up-chat"))["model"] == "acme/chat-1"
