"""The request flow of the inference endpoints (DESIGN §4), one step per line.

authenticate → parse and check the body → resolve the model → hold the worst case → try the
routes → relay the reply → settle. A hold is always settled exactly once: by the stream relay
when streaming, here otherwise (also when the upstream call failed, with a charge of 0).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.auth import authenticate, resolve_model
from dataplane.billing import Outcome, Reservation
from dataplane.bodies import ChatRequest, parse_chat, parse_embeddings, read_json
from dataplane.errors import GatewayError, upstream_error
from dataplane.failover import Attempt, Failures, open_upstream
from dataplane.gateway import Gateway
from dataplane.streaming import SSERelay
from dataplane.tokens import (
    chat_prompt_bound,
    embeddings_prompt_bound,
    estimate_prompt_tokens,
    estimate_tokens,
)
from dataplane.upstreams.base import openai_usage
from shared.money import TokenUsage

LOWERED_HEADER = "x-tollgate-max-tokens-lowered"
JSON = "application/json"


def _apply_billing(chat: ChatRequest, r: Reservation) -> None:
    """Rewrite the output cap when it was lowered, and always ask for usage on streams."""
    body = chat.body
    if r.lowered:
        present = [name for name in ("max_completion_tokens", "max_tokens") if name in body]
        for name in present or ["max_completion_tokens"]:
            body[name] = r.output_cap
    if chat.stream:
        options = body.get("stream_options") or {}
        body["stream_options"] = {**options, "include_usage": True}


def billing_headers(r: Reservation) -> dict[str, str]:
    """The header telling the client its output cap was lowered, if it was; a limited key's x-ratelimit-*."""
    headers = {LOWERED_HEADER: str(r.output_cap)} if r.lowered else {}
    if r.ticket is not None:
        headers.update(r.ticket.headers())
    return headers


def settle_failed(gateway: Gateway, r: Reservation, exc: BaseException, failures: Failures) -> None:
    """Settle a reservation whose upstream call failed (charge 0), recording why."""
    route = failures.items[-1].route if failures.items else None
    if isinstance(exc, GatewayError):
        status, message = exc.status, exc.message
    else:
        status, message = 499, f"request ended before the upstream answered ({type(exc).__name__})"
    gateway.billing.finish(r, Outcome(TokenUsage(), "error", status, route, "none", None, message))


def _reply_tokens(payload: dict[str, Any]) -> int:
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
                tokens += estimate_tokens(
                    str(function.get("name") or "") + str(function.get("arguments") or "")
                )
    return tokens


def _chat_outcome(attempt: Attempt, reply: dict[str, Any], chat: ChatRequest) -> Outcome:
    usage = openai_usage(reply)
    if usage is not None:
        return Outcome(usage, route=attempt.route)
    counted = TokenUsage(estimate_prompt_tokens(chat.body), _reply_tokens(reply))
    return Outcome(counted, route=attempt.route, usage_source="counted")


async def chat_completions(request: Request) -> Response | SSERelay:
    """POST /v1/chat/completions, streaming or not."""
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    raw, body = await read_json(request, gateway.settings.max_body_bytes)
    chat = parse_chat(raw, body)
    model = resolve_model(gateway, caller, chat.model, "chat")
    cap = gateway.billing.default_cap(model, chat.requested_cap)
    r = await gateway.billing.reserve(
        caller, model, chat_prompt_bound(raw, body), cap, chat.n, "chat", chat.stream
    )
    _apply_billing(chat, r)
    failures = Failures()
    try:
        attempt = await open_upstream(
            gateway,
            model,
            lambda adapter, route: adapter.chat_request(route, body, caller.request_id, r.output_cap),
            not chat.stream,
            failures,
        )
    except BaseException as exc:
        settle_failed(gateway, r, exc, failures)
        raise
    if chat.stream:
        return SSERelay(gateway, attempt, r, body, chat.include_usage, billing_headers(r))
    assert attempt.payload is not None
    reply = attempt.adapter.reply(attempt.payload)
    gateway.billing.finish(r, _chat_outcome(attempt, reply, chat))
    # An OpenAI upstream's reply goes out byte for byte; a translated one is serialised here.
    content = attempt.response.content if reply is attempt.payload else orjson.dumps(reply)
    return Response(content, 200, headers=billing_headers(r), media_type=JSON)


def _base64_vectors(payload: dict[str, Any] | None) -> bytes:
    """The reply with every float vector packed as base64 little-endian float32."""
    assert payload is not None
    for item in payload.get("data") or ():
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, list):
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return orjson.dumps(payload)


def _input_tokens(value: Any) -> int:
    if isinstance(value, str):
        return estimate_tokens(value)
    if isinstance(value, list):
        return sum(1 if isinstance(v, int) else _input_tokens(v) for v in value)
    return 0


async def embeddings(request: Request) -> Response:
    """POST /v1/embeddings: float upstream; base64 (little-endian float32) when the client asks for it."""
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    _, body = await read_json(request, gateway.settings.max_body_bytes)
    wanted = parse_embeddings(body)
    model = resolve_model(gateway, caller, wanted.model, "embedding")
    r = await gateway.billing.reserve(
        caller, model, embeddings_prompt_bound(body["input"]), 0, 1, "embeddings", False
    )
    body["encoding_format"] = "float"
    failures = Failures()
    try:
        attempt = await open_upstream(
            gateway,
            model,
            lambda adapter, route: adapter.embeddings_request(route, body, caller.request_id),
            True,
            failures,
        )
        content = _base64_vectors(attempt.payload) if wanted.base64 else attempt.response.content
    except (struct.error, TypeError) as exc:
        error = upstream_error("The upstream provider returned an embedding that is not a list of numbers.")
        settle_failed(gateway, r, error, failures)
        raise error from exc
    except BaseException as exc:
        settle_failed(gateway, r, exc, failures)
        raise
    assert attempt.payload is not None
    usage = openai_usage(attempt.payload)
    source = "upstream"
    if usage is None:
        usage, source = TokenUsage(_input_tokens(body["input"])), "counted"
    gateway.billing.finish(r, Outcome(usage, route=attempt.route, usage_source=source))
    return Response(content, 200, headers=billing_headers(r), media_type=JSON)
