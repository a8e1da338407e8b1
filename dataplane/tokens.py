"""Token counts without a tokenizer: an upper bound for holds, an estimate for missing usage.

Upper bound (for holds): a byte-level BPE token covers at least one byte of text, so the UTF-8
size of the request's JSON bounds the prompt's text tokens; the JSON punctuation around each
message (≥ 20 bytes) more than covers the few tokens of per-message chat framing. Media parts
are not counted by their base64 size but by a fixed allowance per image and by decoded size for
audio and files. The bound is loose on purpose: it only sizes a hold, which is released.

Estimate (to bill a stream that ended without usage): about four ASCII characters per token,
and each non-ASCII character counted as a whole token (CJK text is roughly one token per
character). One token per streamed delta is the floor, since upstreams send about one token
per chunk.
"""

from __future__ import annotations

from typing import Any

import orjson

IMAGE_TOKENS = 2_000
MEDIA_MARKERS = (b'"image_url"', b'"input_audio"', b'"file"', b'"input_image"')
OVERHEAD_TOKENS = 16


def _media_tokens(part: dict[str, Any]) -> int:
    kind = part.get("type")
    if kind in ("image_url", "input_image"):
        return IMAGE_TOKENS
    payload = part.get("input_audio") if kind == "input_audio" else part.get("file")
    data = payload.get("data") or payload.get("file_data") if isinstance(payload, dict) else None
    return len(data) * 3 // 4 if isinstance(data, str) else IMAGE_TOKENS


def _without_media(messages: list[Any]) -> tuple[list[Any], int]:
    """The messages with media parts removed, and the allowance for what was removed."""
    media = 0
    kept = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") in (
                    "image_url",
                    "input_image",
                    "input_audio",
                    "file",
                ):
                    media += _media_tokens(part)
                else:
                    parts.append(part)
            message = {**message, "content": parts}
        kept.append(message)
    return kept, media


def chat_prompt_bound(raw: bytes, body: dict[str, Any]) -> int:
    """An upper bound on the prompt tokens of a chat request."""
    if not any(marker in raw for marker in MEDIA_MARKERS):
        return len(raw) + OVERHEAD_TOKENS
    messages, media = _without_media(body.get("messages") or [])
    rest = {k: v for k, v in body.items() if k != "messages"}
    return len(orjson.dumps(messages)) + len(orjson.dumps(rest)) + media + OVERHEAD_TOKENS


def embeddings_prompt_bound(value: Any) -> int:
    """An upper bound on the tokens of an embeddings `input` (strings, or token arrays)."""
    if isinstance(value, str):
        return len(value.encode("utf-8")) + 1
    if isinstance(value, int):
        return 1
    if isinstance(value, list):
        return sum(embeddings_prompt_bound(item) for item in value)
    return 0


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate of how many tokens `text` is."""
    if not text:
        return 0
    non_ascii = sum(1 for ch in text if ord(ch) > 127) if not text.isascii() else 0
    ascii_chars = len(text) - non_ascii
    return -(-ascii_chars // 4) + non_ascii


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """An estimate (not a bound) of a chat prompt's tokens, for replies that report no usage."""
    messages, media = _without_media(body.get("messages") or [])
    text = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            text.append(content)
        elif isinstance(content, list):
            text.extend(
                p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return sum(estimate_tokens(t) for t in text) + 4 * len(messages) + media


def reply_tokens(payload: dict[str, Any]) -> int:
    """An estimate of the output tokens of a chat completion (text, reasoning, refusals, tool calls)."""
    tokens = 0
    for choice in payload.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        for name in ("content", "reasoning_content", "refusal"):
            if isinstance(message.get(name), str):
                tokens += estimate_tokens(message[name])
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                text = str(function.get("name") or "") + str(function.get("arguments") or "")
                tokens += estimate_tokens(text)
    return tokens


def input_tokens(value: Any) -> int:
    """An estimate of the tokens of an embeddings `input` or a completions `prompt` (text or token arrays)."""
    if isinstance(value, str):
        return estimate_tokens(value)
    if isinstance(value, list):
        return sum(1 if isinstance(v, int) else input_tokens(v) for v in value)
    return 0
