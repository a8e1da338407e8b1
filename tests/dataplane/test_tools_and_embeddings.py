"""Tool calls (plain, streamed, and through the stream helper) and embeddings through the OpenAI SDK."""

from __future__ import annotations

import base64
import struct

import pytest

from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALLS = [
    {"id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
    {"id": "call_2", "name": "get_weather", "arguments": '{"city":"Tokyo"}'},
]
ASK = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]


def test_tool_calls_non_streaming(gateway: ServerThread, upstream: FakeUpstream, alice: Customer) -> None:
    upstream.script(Reply(tool_calls=CALLS))

    completion = alice.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL, messages=ASK, tools=[WEATHER_TOOL]
    )

    calls = completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_1", "get_weather", '{"city":"Paris"}'),
        ("call_2", "get_weather", '{"city":"Tokyo"}'),
    ]
    assert upstream.requests[-1].body["tools"] == [WEATHER_TOOL]


def test_streamed_tool_call_deltas_arrive_intact(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(tool_calls=CALLS))

    stream = alice.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL, messages=ASK, tools=[WEATHER_TOOL], stream=True
    )
    arguments: dict[int, str] = {}
    firsts = []
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            if call.id:
                firsts.append((call.index, call.id, call.type, call.function.name))
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")

    assert firsts == [(0, "call_1", "function", "get_weather"), (1, "call_2", "function", "get_weather")]
    assert arguments == {0: '{"city":"Paris"}', 1: '{"city":"Tokyo"}'}


def test_stream_helper_parses_tool_calls(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(tool_calls=CALLS[:1], usage=(30, 9)))
    client = alice.client(gateway.url)

    with client.chat.completions.stream(model=CHAT_MODEL, messages=ASK, tools=[WEATHER_TOOL]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()

    [call] = final.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens) == (30, 9)


def test_stream_helper_collects_text(gateway: ServerThread, upstream: FakeUpstream, alice: Customer) -> None:
    upstream.script(Reply(text="The sky is blue"))
    client = alice.client(gateway.url)

    with client.chat.completions.stream(model=CHAT_MODEL, messages=ASK) as stream:
        final = stream.get_final_completion()

    assert final.choices[0].message.content == "The sky is blue"


def test_embeddings_default_base64_is_decoded_by_the_sdk(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(vector=[0.5, -1.25, 2.0, 0.1], usage=(4, 0)))

    result = alice.client(gateway.url).embeddings.create(model=EMBED_MODEL, input=["hello", "world"])

    assert upstream.requests[-1].body["encoding_format"] == "float"
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx([0.5, -1.25, 2.0, 0.1], rel=1e-6)
    assert result.data[1].embedding == pytest.approx([1.5, -0.25, 3.0, 1.1], rel=1e-6)
    [record] = usage_for(1)
    assert (record.endpoint, record.prompt_tokens, record.charge) == ("embeddings", 4, 4 * 1_000)


def test_embeddings_explicit_base64_is_little_endian_float32(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(vector=[1.0, -2.5]))

    result = alice.client(gateway.url).embeddings.create(
        model=EMBED_MODEL, input="hi", encoding_format="base64"
    )

    raw = base64.b64decode(result.data[0].embedding)  # type: ignore[arg-type]
    assert struct.unpack("<2f", raw) == (1.0, -2.5)


def test_embeddings_explicit_float_and_token_arrays(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    client = alice.client(gateway.url)

    result = client.embeddings.create(model=EMBED_MODEL, input=[[1, 2, 3], [4, 5]], encoding_format="float")

    assert upstream.requests[-1].body["input"] == [[1, 2, 3], [4, 5]]
    assert len(result.data) == 2 and result.data[0].embedding == [0.5, -1.25, 2.0, 0.1]
