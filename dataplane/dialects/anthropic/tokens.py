"""Token counts of Anthropic Messages bodies without a tokenizer (the rules of dataplane/tokens.py).

The bound sizes a hold: the body's UTF-8 size, except that base64 media (images, PDFs) count by a
fixed allowance per image and by decoded size for documents, not by their base64 text. The
estimate answers `count_tokens` and prices replies that came without usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from dataplane.tokens import IMAGE_TOKENS, OVERHEAD_TOKENS, estimate_tokens

MESSAGE_TOKENS = 4


def _blocks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every content block of every message, tool_result contents included."""
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                continue
            yield block
            if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                yield from (b for b in block["content"] if isinstance(b, dict))


def _media(block: dict[str, Any]) -> tuple[int, int]:
    """(size of the base64 text, token allowance) of a media block; (0, 0) for anything else."""
    source = block.get("source")
    if block.get("type") not in ("image", "document") or not isinstance(source, dict):
        return 0, 0
    data = source.get("data") if source.get("type") == "base64" else None
    size = len(data) if isinstance(data, str) else 0
    if block["type"] == "image":
        return size, IMAGE_TOKENS
    return size, max(size * 3 // 4, IMAGE_TOKENS)


def messages_prompt_bound(raw: bytes, body: dict[str, Any]) -> int:
    """An upper bound on the prompt tokens of a Messages request."""
    bound = len(raw) + OVERHEAD_TOKENS
    if b'"base64"' not in raw and b'"url"' not in raw:
        return bound
    for block in _blocks(body):
        size, allowance = _media(block)
        bound += allowance - size
    return bound


def _text_of(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "thinking":
        return str(block.get("thinking", ""))
    if kind == "tool_use":
        return str(block.get("name", "")) + orjson.dumps(block.get("input") or {}).decode()
    if kind == "tool_result" and isinstance(block.get("content"), str):
        return block["content"]
    return ""


def estimate_messages_tokens(body: dict[str, Any]) -> int:
    """An estimate (not a bound) of a Messages request's input tokens."""
    system = body.get("system")
    tokens = estimate_tokens(system) if isinstance(system, str) else 0
    for block in system if isinstance(system, list) else ():
        tokens += estimate_tokens(_text_of(block)) if isinstance(block, dict) else 0
    messages = body.get("messages") or ()
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            tokens += estimate_tokens(content)
    for block in _blocks(body):
        tokens += estimate_tokens(_text_of(block)) + _media(block)[1]
    if body.get("tools"):
        tokens += estimate_tokens(orjson.dumps(body["tools"]).decode())
    return tokens + MESSAGE_TOKENS * len(messages)
