"""Reading and checking request bodies: parse JSON once, 400 with `param` on what is wrong.

Only what the gateway itself relies on is checked (model, messages, stream flags, output caps,
`n`, embeddings input); every other field passes through to the upstream untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from dataplane.errors import bad_request, too_large


@dataclass
class ChatRequest:
    """A chat completion body and what billing and streaming need from it."""

    raw: bytes
    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool
    requested_cap: int | None
    n: int


@dataclass
class EmbeddingsRequest:
    """An embeddings body; `base64` is whether the client wants base64-encoded vectors."""

    body: dict[str, Any]
    model: str
    base64: bool


async def read_json(request: Request, limit: int) -> tuple[bytes, dict[str, Any]]:
    """The raw body and its parsed JSON object; 413 beyond `limit` bytes, 400 if not a JSON object."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(None, f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise bad_request(None, "The request body must be a JSON object.")
    return raw, body


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("model", "you must provide a model parameter (a string).")
    return model


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not _is_int(value) or value < 1:
        raise bad_request(name, f"`{name}` must be a positive integer, got {value!r}.")
    return value


def stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    """`stream`, and whether the client asked for the usage chunk (`stream_options.include_usage`)."""
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("stream", "`stream` must be a boolean.")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("stream_options", "`stream_options` must be an object.")
    return bool(stream), bool(options and options.get("include_usage") is True)


def _messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages", "`messages` must be a non-empty array of message objects.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad_request(f"messages[{i}]", "each message must be an object with a `role` string.")


def parse_chat(raw: bytes, body: dict[str, Any]) -> ChatRequest:
    """Check a chat completion body; max_completion_tokens wins over max_tokens when both are set."""
    model = _model(body)
    _messages(body)
    stream, include_usage = stream_flags(body)
    max_tokens = _positive_int(body, "max_tokens")
    max_completion = _positive_int(body, "max_completion_tokens")
    n = _positive_int(body, "n") or 1
    if n > 128:
        raise bad_request("n", "`n` must be at most 128.")
    cap = max_completion if max_completion is not None else max_tokens
    return ChatRequest(raw, body, model, stream, include_usage, cap, n)


def text_or_tokens(value: Any) -> bool:
    """Whether `value` is a string, a list of strings, a token array or a list of token arrays."""
    if isinstance(value, str):
        return True
    if not isinstance(value, list) or not value:
        return False
    if all(isinstance(v, str) for v in value) or all(_is_int(v) for v in value):
        return True
    return all(isinstance(v, list) and v and all(_is_int(t) for t in v) for v in value)


def parse_embeddings(body: dict[str, Any]) -> EmbeddingsRequest:
    """Check an embeddings body: input is a string, strings, a token array or token arrays."""
    model = _model(body)
    value = body.get("input")
    if value is None or value == "" or not text_or_tokens(value):
        raise bad_request(
            "input",
            "`input` must be a non-empty string, array of strings, token array or array of token arrays.",
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64", None):
        raise bad_request("encoding_format", '`encoding_format` must be "float" or "base64".')
    return EmbeddingsRequest(body, model, encoding == "base64")
