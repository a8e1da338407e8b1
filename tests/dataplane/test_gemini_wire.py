"""The Gemini translators as plain functions: what each field becomes, table by table (no servers)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from dataplane.dialects.gemini.streams import GenerateEncoder
from dataplane.dialects.gemini.wire import parse_generate, to_chat_body, to_generate_response
from dataplane.errors import GatewayError
from dataplane.upstreams.gemini import GenerateStream
from dataplane.upstreams.gemini_wire import to_completion, to_gemini_body, usage_from_gemini
from shared.money import TokenUsage

USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("gemini", "called", "openai"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", False, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
    ],
)
def test_finish_reasons(gemini: str, called: bool, openai: str) -> None:
    parts: list[dict[str, Any]] = [{"text": "x"}]
    if called:
        parts.append({"functionCall": {"name": "f", "args": {}}})
    payload = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": gemini}]}

    assert to_completion(payload)["choices"][0]["finish_reason"] == openai


def test_a_blocked_prompt_is_a_content_filter_finish() -> None:
    completion = to_completion({"promptFeedback": {"blockReason": "SAFETY"}})

    assert completion["choices"][0]["finish_reason"] == "content_filter"
    assert completion["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"promptTokenCount": 7, "candidatesTokenCount": 3}, TokenUsage(7, 3)),
        (
            {
                "promptTokenCount": 7,
                "candidatesTokenCount": 3,
                "thoughtsTokenCount": 4,
                "cachedContentTokenCount": 5,
            },
            TokenUsage(7, 7, cached_tokens=5, reasoning_tokens=4),
        ),
        ({"promptTokenCount": 7, "toolUsePromptTokenCount": 2, "candidatesTokenCount": 1}, TokenUsage(9, 1)),
        ({"totalTokenCount": 3}, None),
    ],
)
def test_usage_metadata(metadata: dict[str, int], expected: TokenUsage | None) -> None:
    assert usage_from_gemini(metadata) == expected


@pytest.mark.parametrize(
    ("extra", "config"),
    [
        ({}, {"maxOutputTokens": 100}),
        ({"max_tokens": 500}, {"maxOutputTokens": 100}),  # never more than billing paid for
        ({"max_completion_tokens": 20, "top_p": 0.5}, {"maxOutputTokens": 20, "topP": 0.5}),
        ({"n": 2, "seed": 7}, {"maxOutputTokens": 100, "candidateCount": 2, "seed": 7}),
        (
            {"response_format": {"type": "json_object"}},
            {"maxOutputTokens": 100, "responseMimeType": "application/json"},
        ),
        (
            {"reasoning_effort": "low"},
            {"maxOutputTokens": 100, "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}},
        ),
    ],
)
def test_generation_config(extra: dict[str, Any], config: dict[str, Any]) -> None:
    assert to_gemini_body({"messages": [USER], **extra}, 100)["generationConfig"] == config


def test_parallel_tool_results_share_one_user_turn() -> None:
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    messages = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "a", "content": "plain text"},
        {"role": "tool", "tool_call_id": "b", "content": '{"ok": true}'},
    ]

    contents = to_gemini_body({"messages": messages}, 10)["contents"]

    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "f", "response": {"result": "plain text"}}},
            {"functionResponse": {"name": "g", "response": {"ok": True}}},
        ],
    }


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "tool", "tool_call_id": "zz", "content": "x"}], "messages[0].tool_call_id"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}],
            "messages[0].content[0]",
        ),
        ([{"role": "user", "content": [{"type": "video", "video": {}}]}], "messages[0].content[0]"),
    ],
)
def test_chat_bodies_gemini_cannot_take_name_the_field(messages: list[dict[str, Any]], param: str) -> None:
    with pytest.raises(GatewayError) as refused:
        to_gemini_body({"messages": messages}, 10)

    assert refused.value.status == 400 and refused.value.param == param


def test_a_snake_case_gemini_body_translates_to_chat() -> None:
    body = {
        "system_instruction": {"parts": [{"text": "be kind"}]},
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "hear"}, {"inline_data": {"mime_type": "audio/wav", "data": "UklG"}}],
            },
            {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"a": 1}}}]},
            {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"r": 2}}}]},
        ],
        "generation_config": {
            "max_output_tokens": 9,
            "stop_sequences": ["x"],
            "thinking_config": {"thinking_budget": 9000},
        },
        "tools": [
            {
                "function_declarations": [
                    {"name": "f", "parameters": {"type": "OBJECT", "propertyOrdering": []}}
                ]
            }
        ],
    }

    wanted = parse_generate(body, stream=False)
    chat = to_chat_body(wanted, "acme/m", 9)

    assert wanted.max_output_tokens == 9
    assert chat["messages"] == [
        {"role": "system", "content": "be kind"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hear"},
                {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1_0", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1_0", "content": '{"r":2}'},
    ]
    assert (chat["max_tokens"], chat["stop"], chat["reasoning_effort"]) == (9, ["x"], "high")
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "contents"),
        ({"contents": [{"role": "user"}]}, "contents[0].parts"),
        ({"contents": [{"role": "robot", "parts": []}]}, "contents[0].role"),
        (
            {"contents": [{"parts": []}], "generationConfig": {"maxOutputTokens": 0}},
            "generationConfig.maxOutputTokens",
        ),
        (
            {"contents": [{"parts": []}], "generationConfig": {"candidateCount": 1.5}},
            "generationConfig.candidateCount",
        ),
    ],
)
def test_bad_gemini_bodies_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as refused:
        parse_generate(body, stream=False)

    assert refused.value.status == 400 and refused.value.param == param


def test_search_tools_are_refused_on_translated_routes() -> None:
    wanted = parse_generate(
        {"contents": [{"parts": [{"text": "x"}]}], "tools": [{"googleSearch": {}}]}, False
    )

    with pytest.raises(GatewayError) as refused:
        to_chat_body(wanted, "acme/m", 10)

    assert refused.value.param == "tools[0]"


def test_a_chat_completion_reads_as_a_generate_content_response() -> None:
    completion = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "message": {
                    "content": "Hi",
                    "reasoning_content": "thinking",
                    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "not json"}}],
                },
            }
        ]
    }

    reply = to_generate_response(completion, "acme/m", TokenUsage(4, 6, reasoning_tokens=2), "r1")

    assert reply["candidates"][0] == {
        "content": {
            "role": "model",
            "parts": [
                {"text": "thinking", "thought": True},
                {"text": "Hi"},
                {"functionCall": {"id": "c1", "name": "f", "args": {}}},
            ],
        },
        "finishReason": "MAX_TOKENS",
        "index": 0,
    }
    assert reply["usageMetadata"] == {
        "promptTokenCount": 4,
        "candidatesTokenCount": 4,
        "totalTokenCount": 10,
        "thoughtsTokenCount": 2,
    }


def test_a_gemini_stream_event_with_a_call_becomes_tool_call_chunks() -> None:
    event = {
        "candidates": [
            {
                "content": {
                    "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "SIG"}]
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2},
    }

    chunks, ended = GenerateStream().decode(orjson.dumps(event))

    first, usage = (orjson.loads(c) for c in chunks)
    [call] = first["choices"][0]["delta"]["tool_calls"]
    assert call["id"].endswith("__sig__SIG") and call["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert first["choices"][0]["finish_reason"] == "tool_calls" and not ended
    assert usage["usage"]["prompt_tokens"] == 3 and usage["choices"] == []


def test_tool_call_fragments_go_out_whole_in_the_last_gemini_event() -> None:
    encoder = GenerateEncoder("acme/m", "r1")
    pieces = [
        {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
    ]

    sent = b"".join(encoder.chunk(b"", {"choices": [{"index": 0, "delta": d}]}) for d in pieces)
    last = encoder.closing(TokenUsage(3, 2), "tool_calls")

    assert sent == b""
    payload = orjson.loads(last.removeprefix(b"data: "))
    assert payload["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c1", "name": "f", "args": {"a": 1}}}
    ]
    assert payload["candidates"][0]["finishReason"] == "STOP"
    assert payload["usageMetadata"]["promptTokenCount"] == 3
