"""The Responses API with the official `openai` SDK: native on an OpenAI route, translated elsewhere.

`acme/chat-1` is served by an OpenAI provider (native `/v1/responses`); `acme/chat-2` by an
OpenAI-compatible provider that has chat completions only, so Responses are translated onto chat.
The fake upstream reports usage (10, 5) unless a test says otherwise: 10 × 1,000 + 5 × 2,000 nano-USD.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import openai
import pytest

from shared import catalog
from shared.models import StoredResponse
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

TRANSLATED = "acme/chat-2"
CHARGE = 10 * 1_000 + 5 * 2_000
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather by city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def bob(stocked: Shop) -> Customer:
    """A second customer (made before the gateway starts, like every test's data)."""
    return stocked.customer(1_000_000_000)


@pytest.fixture
def poor(stocked: Shop) -> Customer:
    """A customer with $0.001: the prompt and about 400 output tokens."""
    return stocked.customer(1_000_000)


@pytest.fixture
def gateway(
    stocked: Shop,
    bob: Customer,
    poor: Customer,
    upstream: FakeUpstream,
    start_gateway: Callable[..., ServerThread],
) -> ServerThread:
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("chatonly", url + "/v1", "k", stocked.settings.secret_key, kind="openai-chat")
    stocked.model(TRANSLATED, "chatonly", upstream_model="up-chat-2")
    return start_gateway()


@pytest.fixture
def client(gateway: ServerThread, alice: Customer) -> openai.OpenAI:
    return alice.client(gateway.url)


def test_native_route_passes_the_body_and_bills_the_reported_usage(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    response = client.responses.create(model=CHAT_MODEL, input="hi", instructions="be brief", store=False)

    sent = upstream.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.body == {"model": "up-chat", "input": "hi", "instructions": "be brief", "store": False}
    assert response.output_text == "Hello from upstream"
    [record] = usage_for(1)
    assert (record.endpoint, record.prompt_tokens, record.completion_tokens) == ("responses", 10, 5)
    assert charges(alice.user_id) == [CHARGE]


def test_translated_route_speaks_chat_upstream(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    response = client.responses.create(
        model=TRANSLATED, input="hi", instructions="be brief", max_output_tokens=50
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert (sent.body["model"], sent.body["max_completion_tokens"]) == ("up-chat-2", 50)
    assert response.id.startswith("resp_") and response.model == TRANSLATED
    assert response.output_text == "Hello from upstream"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 5)
    assert response.status == "completed"
    [record] = usage_for(1)
    assert charges(alice.user_id) == [record.charge] == [CHARGE]


@pytest.mark.parametrize("model", [CHAT_MODEL, TRANSLATED])
def test_streamed_with_the_strict_helper(
    model: str, client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="one two three", usage=(12, 3)))

    with client.responses.stream(model=model, input="count") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert "".join(deltas) == "one two three" == final.output_text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 3)
    [record] = usage_for(1)
    assert (record.stream, record.status, record.usage_source) == (True, "ok", "upstream")
    assert charges(alice.user_id) == [12 * 1_000 + 3 * 2_000]


def test_tool_call_round_trip_on_a_translated_route(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(
        Reply(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}]),
        Reply(text="18C in Paris", usage=(30, 4)),
    )
    question = [{"role": "user", "content": "Weather in Paris?"}]

    first = client.responses.create(model=TRANSLATED, input=question, tools=[WEATHER], tool_choice="auto")
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, call.call_id, json.loads(call.arguments)) == (
        "get_weather",
        "call_1",
        {"city": "Paris"},
    )
    assert upstream.requests[-1].body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather by city",
                "parameters": WEATHER["parameters"],
            },
        }
    ]
    follow_up = [*question, call, {"type": "function_call_output", "call_id": "call_1", "output": "18C"}]
    second = client.responses.create(model=TRANSLATED, input=follow_up, tools=[WEATHER], store=False)

    messages = upstream.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == "call_1"
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18C"}
    assert second.output_text == "18C in Paris"
    usage_for(2)
    assert sorted(charges(alice.user_id)) == sorted([CHARGE, 30 * 1_000 + 4 * 2_000])


def test_streamed_tool_call_on_a_translated_route(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.script(
        Reply(tool_calls=[{"id": "call_7", "name": "get_weather", "arguments": '{"city": "Rome"}'}])
    )

    with client.responses.stream(model=TRANSLATED, input="Weather in Rome?", tools=[WEATHER]) as stream:
        final = stream.get_final_response()

    [call] = final.output
    assert call.type == "function_call"
    assert (call.call_id, call.name, json.loads(call.arguments)) == (
        "call_7",
        "get_weather",
        {"city": "Rome"},
    )


def test_json_schema_output_on_a_translated_route(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.script(Reply(text='{"city": "Paris", "temp": 18}'))
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp": {"type": "integer"}},
        "required": ["city", "temp"],
        "additionalProperties": False,
    }

    response = client.responses.create(
        model=TRANSLATED,
        input="weather as JSON",
        text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}},
    )

    assert upstream.requests[-1].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": schema, "strict": True},
    }
    assert json.loads(response.output_text) == {"city": "Paris", "temp": 18}


@pytest.mark.parametrize("model", [CHAT_MODEL, TRANSLATED])
def test_previous_response_id_continues_the_conversation(
    model: str, client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="Hello Ada"), Reply(text="You are Ada"))

    first = client.responses.create(model=model, input="My name is Ada")
    second = client.responses.create(model=model, input="What is my name?", previous_response_id=first.id)

    sent = upstream.requests[-1].body
    if model == CHAT_MODEL:
        # Natively the provider gets the whole conversation, never an id only the gateway knows.
        assert "previous_response_id" not in sent
        texts = [
            item["content"] if isinstance(item["content"], str) else item["content"][0]["text"]
            for item in sent["input"]
        ]
    else:
        texts = [m["content"] for m in sent["messages"]]
    assert texts == ["My name is Ada", "Hello Ada", "What is my name?"]
    assert second.output_text == "You are Ada"
    assert client.responses.retrieve(second.id).output_text == "You are Ada"
    usage_for(2)
    assert charges(alice.user_id) == [CHARGE, CHARGE]


def test_stored_responses_belong_to_their_owner_and_can_be_deleted(
    gateway: ServerThread, client: openai.OpenAI, bob: Customer
) -> None:
    kept = client.responses.create(model=TRANSLATED, input="hi")
    unkept = client.responses.create(model=TRANSLATED, input="hi", store=False)
    other = bob.client(gateway.url)

    assert client.responses.retrieve(kept.id).id == kept.id
    assert [i.type for i in client.responses.input_items.list(kept.id).data] == ["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unkept.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(kept.id)
    with pytest.raises(openai.BadRequestError) as caught:
        other.responses.create(model=TRANSLATED, input="hi", previous_response_id=kept.id)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
    client.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept.id)
    assert StoredResponse.select().count() == 0


def test_lowered_output_cap_is_sent_and_said(
    gateway: ServerThread, poor: Customer, upstream: FakeUpstream
) -> None:
    raw = poor.client(gateway.url).responses.with_raw_response.create(
        model=TRANSLATED, input="hi", max_output_tokens=100_000
    )

    lowered = int(raw.headers["x-tollgate-max-tokens-lowered"])
    assert 16 <= lowered < 100_000
    assert upstream.requests[-1].body["max_completion_tokens"] == lowered


def test_bad_input_is_a_400_naming_the_param_and_costs_nothing(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    cases = [
        ({"input": []}, "input"),
        ({"input": "hi", "max_output_tokens": 2**63}, "max_output_tokens"),
        ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
        ({"input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"input": "hi", "previous_response_id": "resp_nope"}, "previous_response_id"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model=TRANSLATED, **extra)  # type: ignore[call-overload]
        assert caught.value.body["param"] == param  # type: ignore[index]
    assert upstream.requests == []
    assert charges(alice.user_id) == []


def test_a_stream_cut_by_the_upstream_is_billed_for_what_was_delivered(
    client: openai.OpenAI, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(text="alpha beta gamma delta epsilon", drop_after=4, usage=(10, 50)))

    with client.responses.stream(model=TRANSLATED, input="go") as stream:
        events = list(stream)

    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "upstream_error"  # type: ignore[union-attr]
    assert "response.completed" not in [e.type for e in events]
    [record] = usage_for(1)
    assert (record.status, record.usage_source) == ("partial", "counted")
    assert 0 < record.completion_tokens < 50
    assert charges(alice.user_id) == [record.charge]


def test_codex_tools_on_a_translated_route(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    """Hosted tools are left out; namespaced functions are flattened and their calls named back."""
    agents = {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "sub-agents",
        "tools": [
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}}
        ],
    }
    upstream.script(
        Reply(tool_calls=[{"id": "call_9", "name": "multi_agent_v1__spawn_agent", "arguments": "{}"}])
    )

    with client.responses.stream(
        model=TRANSLATED,
        input="delegate",
        tools=[WEATHER, agents, {"type": "web_search"}],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_response()

    sent = [t["function"]["name"] for t in upstream.requests[-1].body["tools"]]
    assert sent == ["get_weather", "multi_agent_v1__spawn_agent"]
    [call] = final.output
    assert (call.name, call.namespace, call.call_id) == ("spawn_agent", "multi_agent_v1", "call_9")  # type: ignore[union-attr]
