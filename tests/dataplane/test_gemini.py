"""Gemini both ways: a Gemini provider behind the OpenAI API, and Gemini-native clients (google-genai).

The fake Gemini API (tests/support/fake_gemini.py) is a real HTTP server; OpenAI-kind routes use
the shared fake upstream. Protocol tests run on SQLite; the exact-charge tests on both databases.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from shared import catalog
from shared.models import Provider
from shared.probe import probe
from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, Shop, balance, charges, usage_for
from tests.support.fake_gemini import FakeGemini, GeminiReply
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

BOTH_DATABASES = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
CACHED_PRICE = 100_000_000  # $0.10 per 1M cached tokens: 100 nano-USD per token
REASONING_PRICE = 3_000_000_000  # $3 per 1M thinking tokens: 3,000 nano-USD per token
UPSTREAM_KEY = "AIza-upstream-key"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both (see the module docstring)."""
    return request.param


@pytest.fixture(scope="module")
def gemini_server() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    server = ServerThread(fake.app(), log_level="critical", graceful_s=1.0).start()
    fake.url = server.url
    yield fake
    server.stop()


@pytest.fixture
def fake(gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    gemini_server.reset()
    yield gemini_server
    gemini_server.reset()


@pytest.fixture
def gem(
    shop: Shop, fake: FakeGemini, start_gateway: Callable[..., ServerThread]
) -> tuple[ServerThread, Customer]:
    """A Gemini provider routing the chat and the embedding model; a customer with $1."""
    catalog.add_provider("gem", fake.url + "/v1beta", UPSTREAM_KEY, shop.settings.secret_key, kind="gemini")
    shop.model(
        CHAT_MODEL,
        "gem",
        upstream_model="gemini-test",
        cached_input_price=CACHED_PRICE,
        meters={"reasoning": REASONING_PRICE},
    )
    shop.model(EMBED_MODEL, "gem", upstream_model="text-embedding-test", modality="embedding", output_price=0)
    customer = shop.customer(1_000_000_000)
    return start_gateway(), customer


def genai_client(base_url: str, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url, timeout=15_000))


def weather_tool() -> types.Tool:
    schema = types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"])
    return types.Tool(
        function_declarations=[types.FunctionDeclaration(name="get_weather", parameters=schema)]
    )


# --- google-genai against a Gemini provider (passed through) --------------------------------


@BOTH_DATABASES
def test_generate_content_passes_through_and_bills_thoughts_as_output(
    gem: tuple[ServerThread, Customer], fake: FakeGemini
) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(text="Bonjour", thoughts="hmm", usage=(12, 5, 3, 2)))

    client = genai_client(gateway.url, customer.secret)
    reply = client.models.generate_content(
        model=CHAT_MODEL,
        contents="hi",
        config=types.GenerateContentConfig(
            system_instruction="be brief", max_output_tokens=50, temperature=0.3
        ),
    )

    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-test:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert sent.body["systemInstruction"]["parts"] == [{"text": "be brief"}]
    assert sent.body["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.3}
    assert reply.text == "Bonjour"
    assert reply.usage_metadata.prompt_token_count == 12 and reply.usage_metadata.thoughts_token_count == 3
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.cached_tokens, record.completion_tokens) == (12, 2, 8)
    assert record.reasoning_tokens == 3 and record.endpoint == "gemini"
    expected = (12 - 2) * 1_000 + 2 * 100 + 5 * 2_000 + 3 * 3_000
    assert record.charge == expected and charges(customer.user_id) == [expected]


def test_generate_content_stream_passes_through(gem: tuple[ServerThread, Customer], fake: FakeGemini) -> None:
    gateway, customer = gem

    client = genai_client(gateway.url, customer.secret)
    chunks = list(client.models.generate_content_stream(model=CHAT_MODEL, contents="hi"))

    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-test:streamGenerateContent" and sent.query == {"alt": "sse"}
    assert sent.body["generationConfig"]["maxOutputTokens"] == 4096  # the cap billing paid for
    assert "".join(c.text or "" for c in chunks) == "Hello from Gemini"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == 5
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens, record.charge) == (10, 5, 10 * 1_000 + 5 * 2_000)


def test_a_function_calling_round_passes_through(
    gem: tuple[ServerThread, Customer], fake: FakeGemini
) -> None:
    gateway, customer = gem
    fake.script(
        GeminiReply(text="", calls=[{"name": "get_weather", "args": {"city": "Paris"}}]),
        GeminiReply(text="Sunny in Paris"),
    )
    client = genai_client(gateway.url, customer.secret)
    config = types.GenerateContentConfig(tools=[weather_tool()])
    question = types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")])

    first = client.models.generate_content(model=CHAT_MODEL, contents=[question], config=config)
    [call] = first.function_calls
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    answer = types.Part.from_function_response(name="get_weather", response={"temp": 21})
    contents = [question, first.candidates[0].content, types.Content(role="user", parts=[answer])]
    second = client.models.generate_content(model=CHAT_MODEL, contents=contents, config=config)

    assert second.text == "Sunny in Paris"
    declaration = fake.requests[0].body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    sent = fake.requests[1].body["contents"]
    assert sent[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert sent[2]["parts"][0]["functionResponse"] == {"name": "get_weather", "response": {"temp": 21}}


def test_a_stream_is_cut_at_the_paid_cap(gem: tuple[ServerThread, Customer], fake: FakeGemini) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(pieces=["a"] * 10, usage=(10, 10, 0, 0)))

    client = genai_client(gateway.url, customer.secret)
    chunks = list(
        client.models.generate_content_stream(
            model=CHAT_MODEL, contents="hi", config=types.GenerateContentConfig(max_output_tokens=3)
        )
    )

    assert "".join(c.text or "" for c in chunks) == "aaa"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    [record] = usage_for(1)
    # The upstream's prompt count, and the three one-token pieces delivered.
    assert (record.prompt_tokens, record.completion_tokens, record.charge) == (10, 3, 10 * 1_000 + 3 * 2_000)


# --- google-genai against an OpenAI provider (translated) -----------------------------------


def test_generate_content_on_an_openai_route_is_translated(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream
) -> None:
    upstream.script(Reply(text="Bonjour", usage=(12, 5)))

    client = genai_client(gateway.url, alice.secret)
    reply = client.models.generate_content(
        model=CHAT_MODEL,
        contents="hi",
        config=types.GenerateContentConfig(
            system_instruction="be brief", max_output_tokens=40, temperature=0.5, stop_sequences=["END"]
        ),
    )

    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "up-chat"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    ]
    assert (sent.body["max_tokens"], sent.body["temperature"], sent.body["stop"]) == (40, 0.5, ["END"])
    assert reply.text == "Bonjour"
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    assert reply.usage_metadata.prompt_token_count == 12 and reply.usage_metadata.candidates_token_count == 5
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens, record.charge) == (12, 5, 12 * 1_000 + 5 * 2_000)


def test_generate_content_stream_on_an_openai_route_is_translated(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream
) -> None:
    client = genai_client(gateway.url, alice.secret)
    chunks = list(client.models.generate_content_stream(model=CHAT_MODEL, contents="hi"))

    sent = upstream.requests[-1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "".join(c.text or "" for c in chunks) == "Hello from upstream"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == 15
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens) == (10, 5)


def test_a_function_calling_round_on_an_openai_route(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream
) -> None:
    upstream.script(
        Reply(tool_calls=[{"id": "call_9", "name": "get_weather", "arguments": '{"city":"Rome"}'}]),
        Reply(text="Sunny in Rome"),
    )
    client = genai_client(gateway.url, alice.secret)
    config = types.GenerateContentConfig(
        tools=[weather_tool()],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
    )
    question = types.Content(role="user", parts=[types.Part.from_text(text="Weather in Rome?")])

    first = client.models.generate_content(model=CHAT_MODEL, contents=[question], config=config)
    [call] = first.function_calls
    assert (call.id, call.name, call.args) == ("call_9", "get_weather", {"city": "Rome"})
    answer = types.Part.from_function_response(name="get_weather", response={"temp": 21})
    contents = [question, first.candidates[0].content, types.Content(role="user", parts=[answer])]
    second = client.models.generate_content(model=CHAT_MODEL, contents=contents, config=config)

    assert second.text == "Sunny in Rome"
    tools = upstream.requests[0].body["tools"]
    assert tools == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    assert upstream.requests[0].body["tool_choice"] == "required"
    messages = upstream.requests[1].body["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "call_9"
    assert messages[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Rome"}'}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_9", "content": '{"temp":21}'}


# --- The OpenAI SDK against a Gemini provider (translated) ----------------------------------


@BOTH_DATABASES
def test_openai_chat_on_a_gemini_route(gem: tuple[ServerThread, Customer], fake: FakeGemini) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(text="Bonjour", usage=(12, 5, 0, 2)))

    completion = customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        max_tokens=30,
        temperature=0.2,
        stop="END",
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
    )

    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-test:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert sent.body["generationConfig"] == {
        "maxOutputTokens": 30,
        "temperature": 0.2,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
    }
    assert completion.choices[0].message.content == "Bonjour"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 12
    assert completion.usage.prompt_tokens_details.cached_tokens == 2
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.cached_tokens, record.completion_tokens) == (12, 2, 5)
    expected = 10 * 1_000 + 2 * 100 + 5 * 2_000
    assert record.charge == expected and charges(customer.user_id) == [expected]


def test_openai_chat_stream_on_a_gemini_route(gem: tuple[ServerThread, Customer], fake: FakeGemini) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(text="Hello from Gemini", thoughts="let me think", usage=(10, 5, 4, 0)))

    stream = customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-test:streamGenerateContent" and sent.query == {"alt": "sse"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from Gemini"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (10, 9)
    assert usage.completion_tokens_details.reasoning_tokens == 4
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens) == (10, 9, 4)
    assert record.charge == 10 * 1_000 + 5 * 2_000 + 4 * 3_000


def test_openai_tool_calls_on_a_gemini_route_keep_the_thought_signature(
    gem: tuple[ServerThread, Customer], fake: FakeGemini
) -> None:
    gateway, customer = gem
    fake.script(
        GeminiReply(text="", calls=[{"name": "get_weather", "args": {"city": "Paris"}, "signature": "c2ln"}]),
        GeminiReply(text="Sunny"),
    )
    client = customer.client(gateway.url)
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]

    first = client.chat.completions.create(
        model=CHAT_MODEL, messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
    )
    choice = first.choices[0]
    [call] = choice.message.tool_calls
    assert choice.finish_reason == "tool_calls" and call.id.startswith("call_")
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    second = client.chat.completions.create(model=CHAT_MODEL, messages=messages, tools=[WEATHER_TOOL])

    assert second.choices[0].message.content == "Sunny"
    asked = fake.requests[0].body
    assert asked["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parametersJsonSchema": WEATHER_TOOL["function"]["parameters"],
                }
            ]
        }
    ]
    assert asked["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert fake.requests[1].body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2ln",
                }
            ],
        },
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}]},
    ]


def test_openai_image_parts_on_a_gemini_route(gem: tuple[ServerThread, Customer], fake: FakeGemini) -> None:
    gateway, customer = gem

    customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )

    assert fake.requests[-1].body["contents"][0]["parts"] == [
        {"text": "What is in these?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
    ]


def test_embeddings_on_a_gemini_route(gem: tuple[ServerThread, Customer], fake: FakeGemini) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(vectors=[[0.25, -0.5, 1.0], [1.5, 0.0, -2.0]]))
    client = customer.client(gateway.url)

    reply = client.embeddings.create(model=EMBED_MODEL, input=["hello world", "bye"], dimensions=3)
    raw = client.embeddings.create(model=EMBED_MODEL, input="bye", encoding_format="float")

    sent = fake.requests[0]
    assert sent.path == "/v1beta/models/text-embedding-test:batchEmbedContents"
    assert sent.body["requests"] == [
        {
            "model": "models/text-embedding-test",
            "content": {"parts": [{"text": "hello world"}]},
            "outputDimensionality": 3,
        },
        {
            "model": "models/text-embedding-test",
            "content": {"parts": [{"text": "bye"}]},
            "outputDimensionality": 3,
        },
    ]
    # The SDK asked for base64 vectors: the gateway packed Gemini's floats.
    assert [d.embedding for d in reply.data] == [[0.25, -0.5, 1.0], [1.5, 0.0, -2.0]]
    assert raw.data[0].embedding == [0.25, -0.5, 1.0]
    # Gemini reports no tokens for embeddings: the gateway's estimate (about 4 characters a token).
    assert reply.usage.prompt_tokens == 3 + 1 and raw.usage.prompt_tokens == 1
    first, second = usage_for(2)
    assert (first.prompt_tokens, first.charge, second.charge) == (4, 4 * 1_000, 1_000)


# --- Failures, errors and keys ---------------------------------------------------------------


def test_nothing_is_billed_when_the_gemini_upstream_fails(
    gem: tuple[ServerThread, Customer], fake: FakeGemini
) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(status=500), GeminiReply(status=500))
    before = balance(customer.user_id)

    with pytest.raises(openai.APIStatusError) as failed:
        customer.client(gateway.url).chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    client = genai_client(gateway.url, customer.secret)
    with pytest.raises(genai_errors.ServerError) as native:
        client.models.generate_content(model=CHAT_MODEL, contents="hi")

    assert failed.value.status_code == 502
    assert (native.value.code, native.value.status) == (502, "UNAVAILABLE")
    records = usage_for(2)
    assert [r.charge for r in records] == [0, 0] and [r.status for r in records] == ["error", "error"]
    assert charges(customer.user_id) == []
    gateway.stop()  # which hands back the balance the data plane had leased
    assert balance(customer.user_id) == before


def test_a_gemini_stream_that_fails_midway_ends_with_an_error_event(
    gem: tuple[ServerThread, Customer], fake: FakeGemini
) -> None:
    gateway, customer = gem
    fake.script(GeminiReply(pieces=["one", " two", " three"], error_after=2, message="quota gone"))

    client = genai_client(gateway.url, customer.secret)
    with pytest.raises(genai_errors.APIError) as failed:
        for _ in client.models.generate_content_stream(model=CHAT_MODEL, contents="hi"):
            pass

    assert failed.value.status == "INTERNAL" and failed.value.message == "quota gone"


def test_keys_by_header_and_query_and_errors_in_googles_shape(
    gem: tuple[ServerThread, Customer], fake: FakeGemini, shop: Shop
) -> None:
    gateway, customer = gem
    url = gateway.url + "/v1beta/models/" + CHAT_MODEL + ":generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    narrow = shop.customer(1_000_000_000, models=[EMBED_MODEL])

    by_header = httpx.post(url, json=body, headers={"x-goog-api-key": customer.secret})
    by_query = httpx.post(url, json=body, params={"key": customer.secret})
    by_bearer = httpx.post(url, json=body, headers={"authorization": "Bearer " + customer.secret})
    wrong = httpx.post(url, json=body, params={"key": "sk-tg-wrong"})
    denied = httpx.post(url, json=body, headers={"x-goog-api-key": narrow.secret})
    unknown = httpx.post(url.replace(CHAT_MODEL, "acme/nope"), json=body, params={"key": customer.secret})
    empty = httpx.post(url, json={"contents": []}, params={"key": customer.secret})
    no_sse = httpx.post(
        url.replace(":generateContent", ":streamGenerateContent"), json=body, params={"key": customer.secret}
    )

    assert [r.status_code for r in (by_header, by_query, by_bearer)] == [200, 200, 200]
    assert by_query.json()["candidates"][0]["content"]["parts"] == [{"text": "Hello from Gemini"}]
    assert wrong.status_code == 401 and wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    assert wrong.json()["error"]["code"] == 401 and wrong.json()["error"]["message"]
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    assert empty.status_code == 400 and empty.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert empty.json()["error"]["details"][0]["fieldViolations"][0]["field"] == "contents"
    assert (
        no_sse.status_code == 400
        and no_sse.json()["error"]["details"][0]["fieldViolations"][0]["field"] == "alt"
    )
    assert len(fake.requests) == 3
    client = genai_client(gateway.url, "sk-tg-wrong")
    with pytest.raises(genai_errors.ClientError) as sdk:
        client.models.generate_content(model=CHAT_MODEL, contents="hi")
    assert (sdk.value.code, sdk.value.status) == (401, "UNAUTHENTICATED")


def test_an_unaffordable_call_is_refused_before_the_upstream(
    shop: Shop, fake: FakeGemini, start_gateway: Callable[..., ServerThread]
) -> None:
    catalog.add_provider("gem", fake.url + "/v1beta", UPSTREAM_KEY, shop.settings.secret_key, kind="gemini")
    shop.model(CHAT_MODEL, "gem", upstream_model="gemini-test")
    poor = shop.customer(1_000)  # a millionth of a dollar
    gateway = start_gateway()

    client = genai_client(gateway.url, poor.secret)
    with pytest.raises(genai_errors.ClientError) as refused:
        client.models.generate_content(model=CHAT_MODEL, contents="hi")

    assert (refused.value.code, refused.value.status) == (402, "FAILED_PRECONDITION")
    assert fake.requests == []


def test_the_probe_sends_one_token_to_a_gemini_provider(
    gem: tuple[ServerThread, Customer], fake: FakeGemini, shop: Shop
) -> None:
    result = probe(Provider.get(Provider.name == "gem"), shop.settings.secret_key)

    assert result.ok and result.model == "gemini-test"
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/gemini-test:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.body["generationConfig"] == {"maxOutputTokens": 1}
