"""Anthropic's `POST /v1/messages` and `/v1/messages/count_tokens` (PROTOCOL §5).

Natively (Anthropic providers) the body goes as sent with only `model` rewritten and `max_tokens`
lowered to what billing granted, with the client's `anthropic-version` and every `anthropic-beta`
value; the reply and the stream go out unchanged, and a lone failing route's status goes out one
to one (a 529 stays a 529, so the SDK retries). Any other provider gets a translated chat
completion (no `anthropic-beta`), and its reply and stream are translated back
(dataplane/dialects/anthropic/). Errors on these routes are in Anthropic's shape.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.auth import authenticate, resolve_model
from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt, read_json
from dataplane.dialects.anthropic.streams import MessagesEncoder, NativeMessages
from dataplane.dialects.anthropic.tokens import estimate_messages_tokens, messages_prompt_bound
from dataplane.dialects.anthropic.wire import (
    MessagesRequest,
    message_id,
    parse_messages,
    to_chat_body,
    to_message,
    usage_from_anthropic,
)
from dataplane.endpoints.base import ANTHROPIC, Call, Endpoint, NativeReply
from dataplane.errors import GatewayError
from dataplane.failover import Failures
from dataplane.gateway import Gateway
from dataplane.snapshot import RouteInfo
from dataplane.tokens import estimate_tokens
from dataplane.upstreams.base import Upstream
from shared.money import TokenUsage

JSON = "application/json"
# Upstream answers passed on with their own status when the only route gave them (PROTOCOL §5.5).
NATIVE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def forwarded_headers(headers: httpx.Headers | Any) -> dict[str, str]:
    """The client's Anthropic headers for a native route; every `anthropic-beta` value, joined."""
    out = {}
    for name in FORWARDED_HEADERS:
        values = headers.getlist(name) if hasattr(headers, "getlist") else [headers.get(name)]
        values = [v for v in values if v]
        if values:
            out[name] = ",".join(values)
    return out


class Messages(Endpoint):
    name = "messages"
    paths = ("/messages",)
    family = ANTHROPIC

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        wanted: MessagesRequest = parse_messages(raw, body)
        return Call(
            wanted.model,
            wanted.stream,
            bounded_prompt(messages_prompt_bound(raw, body)),
            wanted.max_tokens,
            wanted,
            headers=forwarded_headers(headers),
        )

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        wanted = call.parsed
        payload = dict(wanted.body)
        if wanted.max_tokens is None or wanted.max_tokens > r.output_cap:
            payload["max_tokens"] = r.output_cap
        headers = {
            **call.headers,
            "accept": "text/event-stream" if wanted.stream else JSON,
            "x-request-id": r.caller.request_id,
        }
        return adapter.native_request(route, "/messages", payload, headers)

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        text = orjson.dumps(payload.get("content") or []).decode()
        return NativeReply(content, usage_from_anthropic(payload.get("usage")), estimate_tokens(text))

    def native_stream(self, call: Call, r: Reservation) -> NativeMessages:
        return NativeMessages(self.counted_prompt(call), call.model)

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        return to_chat_body(call.parsed.body, r.output_cap)

    def from_chat(
        self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage
    ) -> dict[str, Any]:
        return to_message(completion, message_id(r.caller.request_id), call.model, usage)

    def chat_encoder(self, call: Call, r: Reservation) -> MessagesEncoder:
        return MessagesEncoder(message_id(r.caller.request_id), call.model, self.counted_prompt(call))

    def counted_prompt(self, call: Call) -> int:
        return estimate_messages_tokens(call.parsed.body)

    def failed(self, error: Exception, failures: Failures) -> Exception:
        """A lone Anthropic route's overload or rate limit keeps its status (a 4xx is kept as it is)."""
        if not isinstance(error, GatewayError) or len(failures.items) != 1 or error.status < 500:
            return error
        failure = failures.items[0]
        if failure.route.provider.kind != "anthropic" or failure.status not in NATIVE_STATUSES:
            return error
        headers = dict(error.headers)
        if failure.retry_after is not None:
            headers["retry-after"] = str(failure.retry_after)
        return GatewayError(failure.status, error.message, error.type, error.code, headers=headers)


ENDPOINT = Messages()


async def count_tokens(request: Request) -> Response:
    """POST /v1/messages/count_tokens: an offline estimate of the input tokens."""
    gateway: Gateway = request.state.gateway
    request.scope["state"]["family"] = ANTHROPIC
    caller = await authenticate(request, gateway)
    raw, body = await read_json(request, gateway.settings.max_body_bytes)
    wanted = parse_messages(raw, body, need_max_tokens=False)
    resolve_model(gateway, caller, wanted.model, "chat")
    return Response(orjson.dumps({"input_tokens": estimate_messages_tokens(body)}), media_type=JSON)
