"""An Anthropic provider behind the OpenAI API: requests, replies and streams are translated."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from shared import catalog
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def claude(shop: Shop, upstream: FakeUpstream, start_gateway: Callable) -> tuple[ServerThread, Customer]:
    catalog.add_provider(
        "claude", upstream.url + "/v1", "sk-ant-test", shop.settings.secret_key, kind="anthropic"
    )  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "claude", upstream_model="claude-test", cached_input_price=100_000_000)
    customer = shop.customer(1_000_000_000)
    return start_gateway(), customer


def test_plain_chat_is_translated_both_ways(
    claude: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = claude
    upstream.script(Reply(text="Bonjour", usage=(12, 5), cached_tokens=2))

    completion = customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        temperature=1.5,
        stop="END",
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test" and sent.headers["anthropic-version"]
    assert sent.body["model"] == "claude-test" and sent.body["system"] == "be brief"
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert sent.body["max_tokens"] == 4096 and sent.body["temperature"] == 1.0
    assert sent.body["stop_sequences"] == ["END"]
    assert completion.choices[0].message.content == "Bonjour"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 12
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.cached_tokens, record.completion_tokens) == (12, 2, 5)
    assert record.charge == 10 * 1_000 + 2 * 100 + 5 * 2_000


def test_tool_turns_become_tool_use_and_tool_result_blocks(
    claude: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = claude
    upstream.script(
        Reply(tool_calls=[{"id": "toolu_2", "name": "get_weather", "arguments": '{"city":"Rome"}'}])
    )
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "user", "content": "And Rome?"},
    ]

    completion = customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL,
        messages=messages,
        tools=[WEATHER_TOOL],
        tool_choice="required",
        parallel_tool_calls=False,
    )

    sent = upstream.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
        {"type": "text", "text": "And Rome?"},
    ]
    assert sent["tools"][0]["input_schema"] == WEATHER_TOOL["function"]["parameters"]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    [call] = completion.choices[0].message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "toolu_2",
        "get_weather",
        '{"city":"Rome"}',
    )
    assert completion.choices[0].finish_reason == "tool_calls"


def test_streamed_text_is_translated_to_chunks(
    claude: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = claude
    upstream.script(Reply(text="one two three", usage=(9, 3)))

    chunks = list(
        customer.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens, record.usage_source) == (9, 3, "upstream")


def test_streamed_tool_call_works_with_the_stream_helper(
    claude: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = claude
    upstream.script(
        Reply(tool_calls=[{"id": "toolu_9", "name": "get_weather", "arguments": '{"city":"Oslo"}'}])
    )

    with customer.client(gateway.url).chat.completions.stream(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Oslo?"}], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()

    [call] = final.choices[0].message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "toolu_9",
        "get_weather",
        '{"city":"Oslo"}',
    )


def test_more_than_one_choice_is_a_400(claude: tuple[ServerThread, Customer], upstream: FakeUpstream) -> None:
    gateway, customer = claude

    with pytest.raises(openai.BadRequestError) as caught:
        customer.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}], n=2
        )

    assert caught.value.param == "n"
    assert upstream.requests == []
