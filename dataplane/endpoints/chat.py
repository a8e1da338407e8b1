"""`POST /v1/chat/completions`: the internal form itself (PROTOCOL §2).

Natively (OpenAI-compatible providers) the body passes through with `model` rewritten, the output
cap lowered when billing lowered it, and usage always requested on streams (the usage-only chunk
goes to the client only if it asked). Other kinds get the same body and translate it themselves.
"""

from __future__ import annotations

from typing import Any

import httpx

from dataplane.billing import Reservation
from dataplane.bodies import ChatRequest, bounded_prompt, parse_chat
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.snapshot import RouteInfo
from dataplane.stream_relay import ChatEncoder, ChatStream
from dataplane.tokens import chat_prompt_bound, estimate_prompt_tokens, reply_tokens
from dataplane.upstreams.base import Upstream, openai_usage
from dataplane.upstreams.openai import PASS_THROUGH
from shared.money import TokenUsage


def apply_billing(body: dict[str, Any], stream: bool, r: Reservation) -> dict[str, Any]:
    """Rewrite the output cap when it was lowered, and always ask for usage on streams."""
    if r.lowered:
        present = [name for name in ("max_completion_tokens", "max_tokens") if name in body]
        for name in present or ["max_completion_tokens"]:
            body[name] = r.output_cap
    if stream:
        options = body.get("stream_options") or {}
        body["stream_options"] = {**options, "include_usage": True}
    return body


class Chat(Endpoint):
    name = "chat"
    paths = ("/chat/completions",)

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        chat: ChatRequest = parse_chat(raw, body)
        return Call(
            chat.model,
            chat.stream,
            bounded_prompt(chat_prompt_bound(raw, body)),
            chat.requested_cap,
            chat,
            n=chat.n,
            include_usage=chat.include_usage,
        )

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        return adapter.chat_request(route, self.chat_body(call, r), r.caller.request_id, r.output_cap)

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        usage = openai_usage(payload)
        return NativeReply(content, usage, reply_tokens(payload) if usage is None else 0)

    def native_stream(self, call: Call, r: Reservation) -> ChatStream:
        return ChatStream(
            PASS_THROUGH, ChatEncoder(call.include_usage, call.n, call.model), self.counted_prompt(call)
        )

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        return apply_billing(call.parsed.body, call.stream, r)

    def from_chat(
        self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage
    ) -> dict[str, Any]:
        return completion

    def chat_encoder(self, call: Call, r: Reservation) -> ChatEncoder:
        return ChatEncoder(call.include_usage, call.n, call.model)

    def counted_prompt(self, call: Call) -> int:
        return estimate_prompt_tokens(call.parsed.body)


ENDPOINT = Chat()
