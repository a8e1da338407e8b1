"""Legacy `POST /v1/completions` (PROTOCOL §4.7), which IDE autocomplete plugins still use.

Natively (OpenAI-compatible providers) the body passes through like a chat body: `model`
rewritten, `max_tokens` lowered when billing lowered it, usage always requested on streams.
Elsewhere one prompt (with `suffix`, a fill-in-the-middle request) becomes a chat completion and
the answer comes back as a `text_completion` (dataplane/dialects/completions.py).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt
from dataplane.dialects.completions import (
    CompletionsEncoder,
    CompletionsRequest,
    completion_tokens_of,
    parse_completions,
    to_chat_body,
    to_text_completion,
)
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.snapshot import RouteInfo
from dataplane.stream_relay import ChatEncoder, ChatStream
from dataplane.tokens import OVERHEAD_TOKENS, input_tokens
from dataplane.upstreams.base import Upstream, openai_usage
from dataplane.upstreams.openai import PASS_THROUGH
from shared.money import TokenUsage


class CompletionsChunks:
    """Chat chunks re-told as legacy completion chunks (translated routes)."""

    def __init__(self, encoder: CompletionsEncoder) -> None:
        self.encoder = encoder
        self.keepalive = ChatEncoder.keepalive

    def opening(self) -> bytes:
        return b""

    def chunk(self, data: bytes, chunk: dict[str, Any]) -> bytes:
        return self.encoder.feed(chunk)

    def closing(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        return self.encoder.done(usage, finish_reason)

    def failure(self, code: str, message: str) -> bytes:
        return ChatEncoder(False).failure(code, message)


class Completions(Endpoint):
    name = "completions"
    paths = ("/completions",)

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        req: CompletionsRequest = parse_completions(raw, body)
        bound = bounded_prompt(len(raw) + OVERHEAD_TOKENS)
        usage = req.include_usage
        return Call(req.model, req.stream, bound, req.requested_cap, req, n=req.n, include_usage=usage)

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        body = dict(call.parsed.body)
        if r.lowered:
            body["max_tokens"] = r.output_cap
        if call.stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return adapter.native_request(route, "/completions", body, {"x-request-id": r.caller.request_id})

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        usage = openai_usage(payload)
        return NativeReply(content, usage, completion_tokens_of(payload) if usage is None else 0)

    def native_stream(self, call: Call, r: Reservation) -> ChatStream:
        return ChatStream(
            PASS_THROUGH, ChatEncoder(call.include_usage, call.n, call.model), self.counted_prompt(call)
        )

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        return to_chat_body(call.parsed, r.output_cap)

    def from_chat(
        self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage
    ) -> dict[str, Any]:
        return to_text_completion(completion, call.model, int(time.time()), usage)

    def chat_encoder(self, call: Call, r: Reservation) -> CompletionsChunks:
        return CompletionsChunks(CompletionsEncoder(call.model, int(time.time()), call.include_usage))

    def counted_prompt(self, call: Call) -> int:
        body = call.parsed.body
        return input_tokens(body.get("prompt")) + input_tokens(body.get("suffix") or "")


ENDPOINT = Completions()
