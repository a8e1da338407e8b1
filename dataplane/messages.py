"""Anthropic's Messages API: `POST /v1/messages`, `/v1/messages/count_tokens`, and `/v1/models`
in Anthropic's shape (PROTOCOL §5, §4.2).

The request flow is the chat completions one (dataplane/relay.py): authenticate (Bearer or
`x-api-key`), parse, resolve the model, hold the worst case, try the routes, relay, settle once.
Per route, an Anthropic provider gets the body as sent with only `model` rewritten (and
`max_tokens` lowered to what billing granted), the client's `anthropic-version` and
`anthropic-beta`, and its own `x-api-key`; its reply and stream go out unchanged, and a lone
failing route's status goes out one to one (a 529 stays a 529, so the SDK retries). An
OpenAI-compatible provider gets a translated chat completion (no `anthropic-beta`), and its reply
and stream are translated back (dataplane/anthropic_wire.py, dataplane/anthropic_streams.py).
Errors on these routes are in Anthropic's shape (dataplane/anthropic_errors.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane import catalog
from dataplane.anthropic_streams import NativeRelay, TranslatedRelay
from dataplane.anthropic_tokens import estimate_messages_tokens, messages_prompt_bound
from dataplane.anthropic_wire import (
    MessagesRequest,
    anthropic_usage,
    message_id,
    parse_messages,
    to_chat_body,
    to_message,
    usage_from_anthropic,
)
from dataplane.auth import authenticate, may_use, resolve_model
from dataplane.billing import Caller, Outcome, Reservation
from dataplane.bodies import read_json
from dataplane.errors import GatewayError, bad_request, model_not_found
from dataplane.failover import Attempt, Failures, open_upstream
from dataplane.gateway import Gateway
from dataplane.relay import billing_headers, settle_failed
from dataplane.snapshot import ModelInfo, RouteInfo
from dataplane.streaming import SSERelay
from dataplane.tokens import estimate_tokens
from dataplane.upstreams.anthropic import ANTHROPIC_VERSION, AnthropicUpstream
from dataplane.upstreams.base import Upstream, openai_usage
from shared.money import TokenUsage

JSON = "application/json"
# Upstream answers passed on with their own status when the only route gave them (PROTOCOL §5.5).
NATIVE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
MAX_PAGE = 1000


class UpstreamRequests:
    """Builds the upstream request of one Messages call for each route tried."""

    def __init__(self, request: Request, wanted: MessagesRequest, caller: Caller, r: Reservation) -> None:
        self.wanted = wanted
        self.request_id = caller.request_id
        self.output_cap = r.output_cap
        self.headers = {
            "accept": "text/event-stream" if wanted.stream else JSON,
            "anthropic-version": request.headers.get("anthropic-version") or ANTHROPIC_VERSION,
            "x-request-id": caller.request_id,
        }
        beta = request.headers.get("anthropic-beta")
        if beta:
            self.headers["anthropic-beta"] = beta
        self._chat_body: dict[str, Any] | None = None

    def chat_body(self) -> dict[str, Any]:
        """The translated chat completion body (built once, on first use)."""
        if self._chat_body is None:
            self._chat_body = to_chat_body(self.wanted.body, self.output_cap)
        return self._chat_body

    def __call__(self, adapter: Upstream, route: RouteInfo) -> httpx.Request:
        if not isinstance(adapter, AnthropicUpstream):
            return adapter.chat_request(route, self.chat_body(), self.request_id, self.output_cap)
        payload = {**self.wanted.body, "model": route.upstream_model}
        if self.wanted.max_tokens is None or self.wanted.max_tokens > self.output_cap:
            payload["max_tokens"] = self.output_cap
        headers = dict(self.headers)
        if route.provider.api_key:
            headers["x-api-key"] = route.provider.api_key
        return adapter.http.post(route, "/messages", payload, headers)


def _native_status(exc: GatewayError, failures: Failures) -> GatewayError:
    """The error for the client: a lone Anthropic route's overload or rate limit keeps its status."""
    if len(failures.items) != 1 or exc.status < 500:  # a 4xx is the request's own problem, kept as is
        return exc
    failure = failures.items[0]
    if failure.route.provider.kind != "anthropic" or failure.status not in NATIVE_STATUSES:
        return exc
    headers = dict(exc.headers)
    if failure.retry_after is not None:
        headers["retry-after"] = str(failure.retry_after)
    return GatewayError(failure.status, exc.message, exc.type, exc.code, headers=headers)


async def _open(
    gateway: Gateway, model: ModelInfo, make: UpstreamRequests, r: Reservation, stream: bool
) -> Attempt:
    failures = Failures()
    try:
        return await open_upstream(gateway, model, make, not stream, failures)
    except GatewayError as exc:
        error = _native_status(exc, failures)
        settle_failed(gateway, r, error, failures)
        if error is exc:
            raise
        raise error from exc
    except BaseException as exc:
        settle_failed(gateway, r, exc, failures)
        raise


def _native_reply(gateway: Gateway, attempt: Attempt, r: Reservation, wanted: MessagesRequest) -> Response:
    """An Anthropic upstream's reply, passed on as it came."""
    assert attempt.payload is not None
    usage = usage_from_anthropic(attempt.payload.get("usage"))
    if usage is not None:
        outcome = Outcome(usage, route=attempt.route)
    else:
        text = orjson.dumps(attempt.payload.get("content") or []).decode()
        counted = TokenUsage(estimate_messages_tokens(wanted.body), estimate_tokens(text))
        outcome = Outcome(counted, route=attempt.route, usage_source="counted")
    gateway.billing.finish(r, outcome)
    return Response(attempt.response.content, 200, headers=billing_headers(r), media_type=JSON)


def _translated_reply(
    gateway: Gateway, attempt: Attempt, r: Reservation, wanted: MessagesRequest
) -> Response:
    """An OpenAI-compatible upstream's chat completion, as an Anthropic message."""
    assert attempt.payload is not None
    usage = openai_usage(attempt.payload)
    message = to_message(
        attempt.payload, message_id(r.caller.request_id), wanted.model, usage or TokenUsage()
    )
    outcome = Outcome(usage or TokenUsage(), route=attempt.route)
    if usage is None:
        text = orjson.dumps(message["content"]).decode()
        counted = TokenUsage(estimate_messages_tokens(wanted.body), estimate_tokens(text))
        message["usage"] = anthropic_usage(counted)
        outcome = Outcome(counted, route=attempt.route, usage_source="counted")
    gateway.billing.finish(r, outcome)
    return Response(orjson.dumps(message), 200, headers=billing_headers(r), media_type=JSON)


async def messages(request: Request) -> Response | SSERelay:
    """POST /v1/messages, streaming or not."""
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    raw, body = await read_json(request, gateway.settings.max_body_bytes)
    wanted = parse_messages(raw, body)
    model = resolve_model(gateway, caller, wanted.model, "chat")
    cap = gateway.billing.default_cap(model, wanted.max_tokens)
    r = await gateway.billing.reserve(
        caller, model, messages_prompt_bound(raw, body), cap, 1, "messages", wanted.stream
    )
    make = UpstreamRequests(request, wanted, caller, r)
    attempt = await _open(gateway, model, make, r, wanted.stream)
    native = isinstance(attempt.adapter, AnthropicUpstream)
    if not wanted.stream:
        reply = _native_reply if native else _translated_reply
        return reply(gateway, attempt, r, wanted)
    if native:
        return NativeRelay(gateway, attempt, r, body, billing_headers(r))
    names = (message_id(caller.request_id), wanted.model)
    return TranslatedRelay(gateway, attempt, r, make.chat_body(), billing_headers(r), names)


async def count_tokens(request: Request) -> Response:
    """POST /v1/messages/count_tokens: an offline estimate of the input tokens."""
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    raw, body = await read_json(request, gateway.settings.max_body_bytes)
    wanted = parse_messages(raw, body, need_max_tokens=False)
    resolve_model(gateway, caller, wanted.model, "chat")
    return Response(orjson.dumps({"input_tokens": estimate_messages_tokens(body)}), media_type=JSON)


def _model_object(model: ModelInfo) -> dict[str, Any]:
    created = dt.datetime.fromtimestamp(model.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "model",
        "id": model.slug,
        "display_name": model.slug,
        "created_at": created,
        "max_input_tokens": model.context_length,
        "max_tokens": model.max_output_tokens,
    }


def _page_size(request: Request) -> int:
    value = request.query_params.get("limit", "20")
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise bad_request("limit", f"limit: must be an integer from 1 to {MAX_PAGE}.")
    return int(value)


def _page(request: Request, slugs: list[str]) -> tuple[list[str], bool]:
    """One page of `slugs` per `after_id` / `before_id` / `limit`, and whether more exist."""
    limit = _page_size(request)
    after, before = request.query_params.get("after_id"), request.query_params.get("before_id")
    if before:
        end = slugs.index(before) if before in slugs else len(slugs)
        return slugs[max(end - limit, 0) : end], end - limit > 0
    start = slugs.index(after) + 1 if after and after in slugs else 0
    return slugs[start : start + limit], start + limit < len(slugs)


async def list_models(request: Request) -> Response:
    """GET /v1/models: Anthropic's paged shape when the request has `anthropic-version`, else OpenAI's."""
    if "anthropic-version" not in request.headers:
        return await catalog.list_models(request)
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    models = gateway.snapshot.models
    slugs = sorted(s for s, m in models.items() if m.routes and may_use(caller, s))
    page, more = _page(request, slugs)
    body = {
        "data": [_model_object(models[s]) for s in page],
        "has_more": more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }
    return Response(orjson.dumps(body), media_type=JSON)


async def get_model(request: Request) -> Response:
    """GET /v1/models/{id}: Anthropic's shape when the request has `anthropic-version`."""
    if "anthropic-version" not in request.headers:
        return await catalog.get_model(request)
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    slug = request.path_params["model_id"]
    model = gateway.snapshot.models.get(slug)
    if model is None or not model.routes or not may_use(caller, slug):
        raise model_not_found(slug)
    return Response(orjson.dumps(_model_object(model)), media_type=JSON)
