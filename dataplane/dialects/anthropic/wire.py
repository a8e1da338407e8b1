"""Anthropic Messages bodies: checking them, and translating them to and from OpenAI chat (PROTOCOL §5).

Only what the gateway relies on is checked (model, max_tokens, messages and their roles, stream);
everything else passes through untouched to Anthropic upstreams. For OpenAI-compatible upstreams
the request becomes a chat completion (system → a system message, `tool_use` → `tool_calls`, each
`tool_result` → a `tool` message ahead of the rest of its user turn, images → data URLs,
stop_sequences → stop, tool_choice and disable_parallel_tool_use mapped, top_k and thinking
dropped) and the reply comes back as an Anthropic message. Usage: Anthropic's `input_tokens`
excludes cache reads and writes, OpenAI's `prompt_tokens` includes them (§5.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dataplane.bodies import MAX_OUTPUT_TOKENS, bounded_int
from dataplane.errors import bad_request
from shared.money import TokenUsage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# Claude Code sends `system` messages inside `messages` (a mid-conversation system prompt).
ROLES = ("user", "assistant", "system")
# Anthropic's extended thinking budget → OpenAI's reasoning effort (at or above each floor).
EFFORTS = ((16_000, "high"), (4_000, "medium"), (1, "low"))
DROPPED_ASSISTANT_BLOCKS = ("thinking", "redacted_thinking")


@dataclass
class MessagesRequest:
    """A Messages body and what billing and streaming need from it."""

    raw: bytes
    body: dict[str, Any]
    model: str
    stream: bool
    max_tokens: int | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages", "messages: must be a non-empty array of message objects.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            roles = '"user", "assistant" or "system"'
            raise bad_request(f"messages.{i}", f"messages.{i}: must be an object whose role is {roles}.")
        content = message.get("content")
        if isinstance(content, list):
            if all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in content):
                continue
        elif isinstance(content, str):
            continue
        raise bad_request(
            f"messages.{i}.content",
            f"messages.{i}.content: must be a string or an array of content blocks with a `type`.",
        )


def _check_thinking(thinking: Any) -> None:
    """`thinking` is an object; its `budget_tokens` (which picks the reasoning effort) an output cap."""
    if thinking is None:
        return
    if not isinstance(thinking, dict):
        raise bad_request("thinking", "thinking: must be an object.")
    bounded_int(thinking, "budget_tokens", 1, MAX_OUTPUT_TOKENS, "thinking.budget_tokens")


def parse_messages(raw: bytes, body: dict[str, Any], need_max_tokens: bool = True) -> MessagesRequest:
    """Check a Messages body (count_tokens bodies have no max_tokens); 400 naming the bad field."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("model", "model: Field required (a string).")
    max_tokens = bounded_int(body, "max_tokens", 1, MAX_OUTPUT_TOKENS)
    if max_tokens is None and need_max_tokens:
        raise bad_request("max_tokens", "max_tokens: Field required (a positive integer).")
    _check_thinking(body.get("thinking"))
    _check_messages(body.get("messages"))
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise bad_request("system", "system: must be a string or an array of text blocks.")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("stream", "stream: must be a boolean.")
    return MessagesRequest(raw, body, model, bool(stream), max_tokens)


def block_text(content: Any) -> str:
    """The text of a string or of the text blocks of a block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _image_part(source: Any, where: str) -> dict[str, Any]:
    if isinstance(source, dict) and source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif isinstance(source, dict) and source.get("type") == "url":
        url = str(source.get("url"))
    else:
        raise bad_request(where, f"{where}: image sources must be base64 or url.")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(source: Any, where: str) -> dict[str, Any]:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if kind == "base64" and source.get("media_type") == "application/pdf":
        data = f"data:application/pdf;base64,{source.get('data')}"
        return {"type": "file", "file": {"filename": "document.pdf", "file_data": data}}
    raise bad_request(where, f"{where}: this model takes documents only as base64 PDF or plain text.")


def _user_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if kind == "image":
        return _image_part(block.get("source"), where)
    if kind == "document":
        return _document_part(block.get("source"), where)
    raise bad_request(where, f"{where}: content blocks of type {kind!r} are not supported by this model.")


def _tool_result(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `tool` message for a tool_result block, and the images it carried (for the user turn)."""
    content = block.get("content")
    images = []
    if isinstance(content, list):
        images = [
            _image_part(b.get("source"), where)
            for b in content
            if isinstance(b, dict) and b.get("type") == "image"
        ]
    message = {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": block_text(content)}
    return message, images


def _user_messages(content: Any, i: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        where = f"messages.{i}.content.{j}"
        if block["type"] == "tool_result":
            message, images = _tool_result(block, where)
            out.append(message)
            parts.extend(images)
        else:
            parts.append(_user_part(block, where))
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant_message(content: Any, i: int) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts, calls = [], []
    for j, block in enumerate(content):
        kind = block["type"]
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        elif kind not in DROPPED_ASSISTANT_BLOCKS:
            where = f"messages.{i}.content.{j}"
            raise bad_request(where, f"{where}: blocks of type {kind!r} are not supported by this model.")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        if not isinstance(tool, dict) or tool.get("type", "custom") not in ("custom", None):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise bad_request(f"tools.{i}", f"tools.{i}: tools of type {kind!r} need an Anthropic model.")
        function = {
            "name": tool.get("name"),
            "description": tool.get("description", ""),
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> tuple[Any, bool]:
    """OpenAI's tool_choice (None: not set) and whether parallel tool calls are disabled."""
    if not isinstance(choice, dict):
        return None, False
    kind = choice.get("type")
    mapped: Any = {"auto": "auto", "any": "required", "none": "none"}.get(str(kind))
    if kind == "tool":
        mapped = {"type": "function", "function": {"name": choice.get("name")}}
    return mapped, choice.get("disable_parallel_tool_use") is True


def to_chat_body(body: dict[str, Any], output_cap: int) -> dict[str, Any]:
    """An OpenAI chat completion body for a Messages body (`model` is set per route later)."""
    messages: list[dict[str, Any]] = []
    system = block_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(body["messages"]):
        if message["role"] == "assistant":
            messages.append(_assistant_message(message["content"], i))
        elif message["role"] == "system":
            messages.append({"role": "system", "content": block_text(message["content"])})
        else:
            messages.extend(_user_messages(message["content"], i))
    out: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": output_cap}
    stops = body.get("stop_sequences")
    if stops:
        out["stop"] = list(stops) if isinstance(stops, list) else [stops]
    for name in ("temperature", "top_p"):
        if isinstance(body.get(name), int | float):
            out[name] = body[name]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
        choice, serial = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if serial:
            out["parallel_tool_calls"] = False
    effort = reasoning_effort(body.get("thinking"), body.get("output_config"))
    if effort:
        out["reasoning_effort"] = effort
    user = (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
    if isinstance(user, str):
        out["user"] = user
    return out


def reasoning_effort(thinking: Any, output_config: Any = None) -> str | None:
    """OpenAI's `reasoning_effort` for an Anthropic `thinking` config (None when thinking is off).

    An explicit `output_config.effort` (Claude Code sends one with adaptive thinking) wins.
    """
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    effort = output_config.get("effort") if isinstance(output_config, dict) else None
    if effort in ("low", "medium", "high"):
        return effort
    budget = thinking.get("budget_tokens")
    if not _is_int(budget):
        return "medium"
    return next((effort for floor, effort in EFFORTS if budget >= floor), "low")


def usage_from_anthropic(usage: Any) -> TokenUsage | None:
    """Anthropic usage as billed token counts: prompt = input + cache reads + cache writes."""
    if not isinstance(usage, dict):
        return None

    def count(name: str) -> int:
        value = usage.get(name)
        return value if _is_int(value) and value > 0 else 0

    cache_read = count("cache_read_input_tokens")
    cache_write = count("cache_creation_input_tokens")
    prompt = count("input_tokens") + cache_read + cache_write
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=count("output_tokens"),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def anthropic_usage(usage: TokenUsage) -> dict[str, int]:
    """Billed token counts as Anthropic usage (input excludes the cached part)."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    return {
        "input_tokens": usage.prompt_tokens - cached - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
    }


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's JSON arguments as a tool_use input object ({} when they are not an object)."""
    try:
        value = orjson.loads(arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _content_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
        blocks.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": ""})
    if isinstance(message.get("content"), str) and message["content"]:
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "input": tool_input(function.get("arguments")),
                }
            )
    return blocks


def to_message(reply: dict[str, Any], message_id: str, model: str, usage: TokenUsage) -> dict[str, Any]:
    """An Anthropic message for an OpenAI chat.completion (its first choice)."""
    choices = reply.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content_blocks(message),
        "stop_reason": STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def message_id(request_id: str) -> str:
    """The id of the message a request produced (from the request id, so logs line up)."""
    return "msg_" + request_id.removeprefix("req_")
