"""The fake provider's OpenAI Responses API and legacy completions, built from a test's `Reply`.

`/v1/responses` answers a Response object (or its stream of typed events, each with `event:` and a
`sequence_number`), with a `function_call` item per scripted tool call; `/v1/completions` answers a
`text_completion` (or its chunks, then `[DONE]`). Usage is `Reply.usage` as (input, output) tokens.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

RESPONSE_IDS = itertools.count(1)


def _responses_usage(usage: tuple[int, int] | None, cached: int) -> dict[str, Any] | None:
    if usage is None:
        return None
    prompt, completion = usage
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _output(reply: Any) -> list[dict[str, Any]]:
    if reply.tool_calls:
        return [
            {
                "type": "function_call",
                "id": f"fc_{i}",
                "call_id": call["id"],
                "name": call["name"],
                "arguments": call["arguments"],
                "status": "completed",
            }
            for i, call in enumerate(reply.tool_calls)
        ]
    text = {"type": "output_text", "text": reply.text, "annotations": []}
    return [
        {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant", "content": [text]}
    ]


def new_response_id() -> str:
    """A fresh id for one upstream response (the fake's ids never repeat within a test run)."""
    return f"resp_upstream_{next(RESPONSE_IDS)}"


def response_object(reply: Any, body: dict[str, Any], rid: str, status: str = "completed") -> dict[str, Any]:
    """A Responses API `response` object for `reply`."""
    return {
        "id": rid,
        "object": "response",
        "created_at": 1763770000,
        "status": status,
        "model": body.get("model"),
        "output": _output(reply) if status != "in_progress" else [],
        "usage": _responses_usage(reply.usage, reply.cached_tokens) if status != "in_progress" else None,
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": {},
        "temperature": None,
        "top_p": None,
    }


def response_events(reply: Any, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The typed event sequence of a streamed response (text deltas from the reply's pieces)."""
    rid = new_response_id()
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response_object(reply, body, rid, "in_progress")}),
        ("response.in_progress", {"response": response_object(reply, body, rid, "in_progress")}),
    ]
    for index, item in enumerate(_output(reply)):
        events += _item_events(reply, index, item)
    events.append(("response.completed", {"response": response_object(reply, body, rid)}))
    return events


def _item_events(reply: Any, index: int, item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if item["type"] == "function_call":
        opened = {**item, "arguments": "", "status": "in_progress"}
        delta = {"item_id": item["id"], "output_index": index, "delta": item["arguments"]}
        done = {"item_id": item["id"], "output_index": index, "arguments": item["arguments"]}
        return [
            ("response.output_item.added", {"output_index": index, "item": opened}),
            ("response.function_call_arguments.delta", delta),
            ("response.function_call_arguments.done", done),
            ("response.output_item.done", {"output_index": index, "item": item}),
        ]
    where = {"item_id": item["id"], "output_index": index, "content_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    events = [
        (
            "response.output_item.added",
            {"output_index": index, "item": {**item, "content": [], "status": "in_progress"}},
        ),
        ("response.content_part.added", {**where, "part": part}),
    ]
    for piece in _pieces(reply.text):
        events.append(("response.output_text.delta", {**where, "delta": piece, "logprobs": []}))
    events += [
        ("response.output_text.done", {**where, "text": reply.text, "logprobs": []}),
        ("response.content_part.done", {**where, "part": {**part, "text": reply.text}}),
        ("response.output_item.done", {"output_index": index, "item": item}),
    ]
    return events


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]] if text else []


def sse(events: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """The events as SSE blocks, numbered in order."""
    return [
        f"event: {name}\ndata: {json.dumps({'type': name, **payload, 'sequence_number': i})}\n\n".encode()
        for i, (name, payload) in enumerate(events)
    ]


def text_completion(reply: Any, body: dict[str, Any]) -> dict[str, Any]:
    """A legacy `text_completion` for `reply`."""
    payload: dict[str, Any] = {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": 1763770000,
        "model": body.get("model"),
        "choices": [{"text": reply.text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        payload["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return payload


def completion_chunks(reply: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of a streamed legacy completion (the usage chunk when it was asked for)."""
    base = {"id": "cmpl-fake", "object": "text_completion", "created": 1763770000, "model": body.get("model")}
    chunks = [
        {**base, "choices": [{"text": piece, "index": 0, "logprobs": None, "finish_reason": None}]}
        for piece in _pieces(reply.text)
    ]
    chunks.append({**base, "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}]})
    if reply.usage is not None and (body.get("stream_options") or {}).get("include_usage"):
        full = text_completion(reply, body)
        chunks.append({**base, "choices": [], "usage": full["usage"]})
    return chunks
