"""Reading and checking request bodies: parse JSON once, 400 with `param` on what is wrong.

Only what the gateway itself relies on is checked (model, messages, stream flags, output caps,
`n`, embeddings input); every other field passes through to the upstream untouched. Every number
the gateway computes with is bounded here (`bounded_int`, with the ceilings below), so no client
value can overflow a hold, a usage record or a rate-limit counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from dataplane.errors import bad_request, too_large

# The ceiling of every output cap (max_tokens, max_completion_tokens, max_output_tokens, Anthropic
# max_tokens and thinking.budget_tokens). A hold is shared/money.py's worst_case: tokens × price
# (nano-USD per 1M tokens) / 1M × multiplier_ppm / 1M, with tokens = cap × n. At the ceilings,
# 10M tokens × n 128 at $1,000 per 1M tokens (1e12 nano-USD) under the largest group multiplier
# (×100, shared/group_admin.py) hold 1.28e17 nano-USD: 72 times below a BIGINT's 2**63 - 1
# (9.2e18), and the rate limiter's int64 counters see at most 1.28e9 output tokens. No model
# writes anywhere near 10M tokens in one reply, so no real request is refused.
MAX_OUTPUT_TOKENS = 10_000_000
# OpenAI's own limit on `n`. Every choice is paid for, so `n` multiplies the hold.
MAX_N = 128
# The ceiling of a prompt bound. A bound is sized from the body (at most max_body_bytes) plus fixed
# allowances per media part, so a body of many empty image parts can claim billions of tokens. No
# model reads a billion. With the output's ceiling, the largest hold is 2.28e9 tokens at $1,000 per
# 1M × 100 = 2.3e17 nano-USD, 40 times below 2**63; overflowing it would take a price above $40,000
# per 1M tokens (prices are set by the operator, not the client).
MAX_PROMPT_TOKENS = 1_000_000_000
SHOWN_CHARS = 40  # how much of a refused value an error message repeats


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


def _shown(value: Any) -> str:
    """A refused value as JSON, cut short (the client may have sent a whole document)."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def bounded_int(body: dict[str, Any], name: str, low: int, high: int, param: str | None = None) -> int | None:
    """`body[name]` as an integer from `low` to `high` (None when absent or null); else a 400.

    Booleans are not integers, and neither is a JSON number written with a fraction or an
    exponent (10.0, 1e20): orjson reads integers beyond 2**64 as floats, so those land here too.
    `param` is the field's path in the error (default `name`), e.g. "thinking.budget_tokens".
    """
    value = body.get(name)
    if value is None:
        return None
    param = param or name
    if _is_int(value) and low <= value <= high:
        return value
    kind = "a whole number (no decimal point or exponent)" if isinstance(value, float) else "an integer"
    raise bad_request(param, f"`{param}` must be {kind} from {low} to {high}, got {_shown(value)}.")


def bounded_prompt(tokens: int) -> int:
    """A prompt bound, at most MAX_PROMPT_TOKENS (it only sizes a hold, see above)."""
    return min(tokens, MAX_PROMPT_TOKENS)


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
    max_tokens = bounded_int(body, "max_tokens", 1, MAX_OUTPUT_TOKENS)
    max_completion = bounded_int(body, "max_completion_tokens", 1, MAX_OUTPUT_TOKENS)
    n = bounded_int(body, "n", 1, MAX_N) or 1
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
