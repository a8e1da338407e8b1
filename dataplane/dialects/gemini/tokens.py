"""Token counts of generateContent bodies without a tokenizer (the rules of dataplane/tokens.py).

The bound sizes a hold: the body's UTF-8 size, except that inline media count by a fixed
allowance per image and by decoded size for other media, not by their base64 text; a media file
given by URI (`fileData`, whose size the gateway cannot see) counts `FILE_TOKENS`, an image's
allowance if it is an image. The estimate prices replies that came without usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from dataplane.dialects.gemini.wire import field, system_text
from dataplane.tokens import IMAGE_TOKENS, OVERHEAD_TOKENS, estimate_tokens

CONTENT_TOKENS = 4
# A file by URI: up to about two minutes of video, or an hour of audio, at Gemini's rates.
FILE_TOKENS = 32_000
MEDIA_MARKERS = (b"inlineData", b"inline_data", b"fileData", b"file_data")


def _parts(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for content in body.get("contents") or ():
        for part in content.get("parts") or () if isinstance(content, dict) else ():
            if isinstance(part, dict):
                yield part


def _media(part: dict[str, Any]) -> tuple[int, int]:
    """(size of the base64 text, token allowance) of a media part; (0, 0) for anything else."""
    inline = field(part, "inlineData")
    if isinstance(inline, dict):
        data = inline.get("data")
        size = len(data) if isinstance(data, str) else 0
        if str(field(inline, "mimeType") or "").startswith("image/"):
            return size, IMAGE_TOKENS
        return size, max(size * 3 // 4, IMAGE_TOKENS)
    file_data = field(part, "fileData")
    if isinstance(file_data, dict):
        image = str(field(file_data, "mimeType") or "").startswith("image/")
        return 0, IMAGE_TOKENS if image else FILE_TOKENS
    return 0, 0


def generate_prompt_bound(raw: bytes, body: dict[str, Any]) -> int:
    """An upper bound on the prompt tokens of a generateContent request."""
    bound = len(raw) + OVERHEAD_TOKENS
    if not any(marker in raw for marker in MEDIA_MARKERS):
        return bound
    for part in _parts(body):
        size, allowance = _media(part)
        bound += allowance - size
    return bound


def _text_of(part: dict[str, Any]) -> str:
    if isinstance(part.get("text"), str):
        return part["text"]
    for name in ("functionCall", "functionResponse"):
        value = field(part, name)
        if isinstance(value, dict):
            return orjson.dumps(value).decode()
    return ""


def estimate_generate_tokens(body: dict[str, Any]) -> int:
    """An estimate (not a bound) of a generateContent request's input tokens."""
    tokens = estimate_tokens(system_text(body.get("systemInstruction")))
    for part in _parts(body):
        tokens += estimate_tokens(_text_of(part)) + _media(part)[1]
    if body.get("tools"):
        tokens += estimate_tokens(orjson.dumps(body["tools"]).decode())
    return tokens + CONTENT_TOKENS * len(body.get("contents") or ())


def candidates_tokens(payload: dict[str, Any]) -> int:
    """An estimate of the output tokens of a GenerateContentResponse (or one stream event)."""
    tokens = 0
    for candidate in payload.get("candidates") or ():
        content = candidate.get("content") if isinstance(candidate, dict) else None
        for part in field(content, "parts") or ():
            tokens += estimate_tokens(_text_of(part)) if isinstance(part, dict) else 0
    return tokens
