"""Anthropic's Messages API behind the OpenAI chat API (PROTOCOL §5.6).

Requests: system and developer messages become `system`; assistant tool calls become `tool_use`
blocks; tool messages become `tool_result` blocks in a user turn (consecutive turns of one role
are merged, since Anthropic requires alternation); `max_tokens` is required, so the output cap
billing paid for is sent when the client gave none. Replies and stream events are translated
back to OpenAI's shapes; usage counts cache reads and writes as prompt tokens (cache reads also
as cached tokens). The provider's base URL includes the version, e.g. https://api.anthropic.com/v1.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from dataplane.errors import bad_request
from dataplane.snapshot import RouteInfo
from dataplane.upstreams.openai import HttpUpstream

THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16_000}
MIN_THINKING_BUDGET = 1024
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _pdf_data(part: dict[str, Any]) -> str | None:
    """The base64 data of a `file` part carrying a PDF data URL, else None."""
    file = part.get("file") if isinstance(part.get("file"), dict) else {}
    data = file.get("file_data")
    prefix = "data:application/pdf;base64,"
    return data[len(prefix) :] if isinstance(data, str) and data.startswith(prefix) else None


def _thinking(effort: Any, max_tokens: int) -> dict[str, Any] | None:
    """Anthropic's extended thinking for an OpenAI `reasoning_effort` (it must leave room for a reply)."""
    budget = THINKING_BUDGETS.get(str(effort))
    if budget is None or max_tokens <= MIN_THINKING_BUDGET:
        return None
    return {"type": "enabled", "budget_tokens": max(MIN_THINKING_BUDGET, min(budget, max_tokens - 1))}


def _user_blocks(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for part in content if isinstance(content, list) else []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            block = {"type": "text", "text": part.get("text", "")}
            if isinstance(part.get("cache_control"), dict):  # the prompt-caching extension some clients send
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif kind == "image_url":
            blocks.append(_image(str((part.get("image_url") or {}).get("url", ""))))
        elif kind == "file" and _pdf_data(part) is not None:
            source = {"type": "base64", "media_type": "application/pdf", "data": _pdf_data(part)}
            blocks.append({"type": "document", "source": source})
        else:
            raise bad_request(
                f"messages[{index}].content", f"content parts of type {kind!r} are not supported here."
            )
    return blocks


def _assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = _text(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = {}
        blocks.append(
            {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments}
        )
    return blocks


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": list(blocks)})


def _messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _text(message.get("content")),
            }
            _append(turns, "user", [result])
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message))
        else:
            _append(turns, "user", _user_blocks(message.get("content"), i))
    return "\n\n".join(s for s in system if s), turns


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    mapped: dict[str, Any] | None = None
    if choice in ("auto", "required", "none"):
        mapped = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    if parallel is False:
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    return mapped


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            schema = function.get("parameters") or {"type": "object", "properties": {}}
            out.append(
                {
                    "name": function.get("name"),
                    "description": function.get("description", ""),
                    "input_schema": schema,
                }
            )
    return out


def to_messages_body(body: dict[str, Any], model: str, output_cap: int) -> dict[str, Any]:
    """An Anthropic Messages request for an OpenAI chat body."""
    system, messages = _messages(body["messages"])
    out: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or output_cap,
    }
    if system:
        out["system"] = system
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    thinking = _thinking(body.get("reasoning_effort"), out["max_tokens"])
    if thinking is not None:
        out["thinking"] = thinking  # which takes no temperature or top_p
    elif isinstance(body.get("temperature"), int | float):
        out["temperature"] = min(float(body["temperature"]), 1.0)
    if body.get("top_p") is not None and thinking is None:
        out["top_p"] = body["top_p"]
    if body.get("stream") is not None:
        out["stream"] = body["stream"]
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice:
        out["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    return out


def openai_usage_of(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage as OpenAI usage: cache reads and writes are prompt tokens too."""
    cache_read = usage.get("cache_read_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + cache_read + (usage.get("cache_creation_input_tokens") or 0)
    completion = usage.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
    }


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = orjson.dumps(block.get("input") or {}).decode()
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {"name": block.get("name"), "arguments": arguments},
    }


def to_completion(payload: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat.completion for an Anthropic message."""
    blocks = [b for b in payload.get("content") or [] if isinstance(b, dict)]
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    finish = FINISH_REASONS.get(str(payload.get("stop_reason")), "stop")
    completion = {
        "id": "chatcmpl-" + str(payload.get("id", "")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
    }
    if isinstance(payload.get("usage"), dict):
        completion["usage"] = openai_usage_of(payload["usage"])
    return completion


class MessagesStream:
    """Anthropic stream events → OpenAI chunks, for one stream (PROTOCOL §5.6, streaming)."""

    def __init__(self) -> None:
        self.id = "chatcmpl-"
        self.model: Any = None
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.tools: dict[int, int] = {}  # Anthropic block index → OpenAI tool call index

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return orjson.dumps(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [choice],
            }
        )

    def decode(self, data: bytes) -> tuple[list[bytes], bool]:
        event = orjson.loads(data)
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "message_start":
            message = event.get("message") or {}
            self.id, self.model = "chatcmpl-" + str(message.get("id", "")), message.get("model")
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})], False
        if kind == "content_block_start":
            return self._block_start(event), False
        if kind == "content_block_delta":
            return self._block_delta(event), False
        if kind == "message_delta":
            self.usage.update(event.get("usage") or {})
            finish = FINISH_REASONS.get(str((event.get("delta") or {}).get("stop_reason")), "stop")
            return [self._chunk({}, finish)], False
        if kind == "message_stop":
            usage = openai_usage_of(self.usage)
            return [
                orjson.dumps(
                    {
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            ], True
        if kind == "error":
            error = event.get("error") or {}
            message = error.get("message") or "The upstream provider failed mid-stream."
            return [
                orjson.dumps(
                    {
                        "error": {
                            "message": message,
                            "type": "server_error",
                            "param": None,
                            "code": error.get("type") or "upstream_error",
                        }
                    }
                )
            ], False
        return [], False

    def _block_start(self, event: dict[str, Any]) -> list[bytes]:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            index = self.tools[event.get("index", 0)] = len(self.tools)
            call = {
                "index": index,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _block_delta(self, event: dict[str, Any]) -> list[bytes]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        if delta.get("type") == "input_json_delta":
            index = self.tools.get(event.get("index", 0), 0)
            call = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
            return [self._chunk({"tool_calls": [call]})]
        if delta.get("type") == "thinking_delta":
            return [self._chunk({"reasoning_content": delta.get("thinking", "")})]
        return []


class AnthropicUpstream(HttpUpstream):
    """Anthropic's Messages API, spoken to OpenAI chat clients (and natively to Messages clients)."""

    def native_request(
        self, route: RouteInfo, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Request:
        payload["model"] = route.upstream_model
        return self.http.post(route, path, payload, self.json_headers(route, headers))

    def chat_request(
        self, route: RouteInfo, body: dict[str, Any], request_id: str, output_cap: int
    ) -> httpx.Request:
        if (body.get("n") or 1) > 1:
            raise bad_request("n", "this model cannot return more than one choice (`n` must be 1).")
        payload = to_messages_body(body, route.upstream_model, output_cap)
        return self.native_request(route, "/messages", payload, {"x-request-id": request_id})

    def reply(self, payload: dict[str, Any]) -> dict[str, Any]:
        return to_completion(payload)

    def stream_decoder(self) -> MessagesStream:
        return MessagesStream()
