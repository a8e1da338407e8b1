"""The request flow of every inference endpoint, written once (DESIGN §4).

    authenticate → parse and bound the body → resolve the model → prepare (e.g. a stored
    conversation) → rate limit and hold the worst case → route and fail over → relay → settle

Each endpoint (dataplane/endpoints/) describes only what is its own: how to parse it, how each
route's request is built (natively, or translated through OpenAI chat completions), and how the
reply and the stream read back. A hold is always settled exactly once: by the stream relay when
streaming, here otherwise, and here with a charge of 0 when no route answered.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.auth import authenticate, resolve_model
from dataplane.billing import Caller, Outcome, Reservation
from dataplane.byte_relay import ByteRelay
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import GatewayError
from dataplane.failover import BYTES, SSE, SSE_OR_JSON, Attempt, Failures, open_upstream
from dataplane.gateway import Gateway
from dataplane.public_model import PublicModel
from dataplane.snapshot import RouteInfo
from dataplane.stream_relay import ChatStream, StreamRelay
from dataplane.tokens import reply_tokens
from dataplane.uploads import Form
from dataplane.upstreams.base import Upstream, openai_usage
from shared.money import TokenUsage

LOWERED_HEADER = "x-tollgate-max-tokens-lowered"
JSON = "application/json"


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


class Ways:
    """Builds one call's upstream request for each route tried: natively, or through chat completions."""

    def __init__(self, endpoint: Endpoint, call: Call, r: Reservation) -> None:
        self.endpoint = endpoint
        self.call = call
        self.r = r
        self._chat: dict[str, Any] | None = None

    def native(self, adapter: Upstream) -> bool:
        """Whether the adapter's kind serves this endpoint as it is."""
        return self.endpoint.name in adapter.kind.native

    def serves(self, adapter: Upstream) -> bool:
        return self.native(adapter) or (self.endpoint.translatable and adapter.kind.chat)

    def chat_body(self) -> dict[str, Any]:
        """The chat completion body for translated routes (built once, on first use)."""
        if self._chat is None:
            self._chat = self.endpoint.chat_body(self.call, self.r)
        return self._chat

    def __call__(self, adapter: Upstream, route: RouteInfo) -> Any:
        if self.native(adapter):
            return self.endpoint.native_request(adapter, route, self.call, self.r)
        request_id = self.r.caller.request_id
        return adapter.chat_request(route, dict(self.chat_body()), request_id, self.r.output_cap)


async def handle(endpoint: Endpoint, request: Request) -> Response | StreamRelay | ByteRelay:
    """Serve one request to `endpoint`, streaming or not."""
    gateway: Gateway = request.state.gateway
    request.scope["state"]["family"] = endpoint.family
    try:
        caller = await authenticate(request, gateway)
        raw, body = await endpoint.read(request, gateway.settings)
    except GatewayError as exc:
        gateway.metrics.refused(endpoint.name, exc.status)
        raise
    try:
        return await _serve(gateway, endpoint, caller, raw, body, request)
    finally:
        if isinstance(body, Form):
            # By now every upload was sent upstream (a reply's headers come after its request).
            body.close()


async def _serve(
    gateway: Gateway, endpoint: Endpoint, caller: Caller, raw: bytes, body: Any, request: Request
) -> Response | StreamRelay | ByteRelay:
    try:
        call = endpoint.parse(raw, body, request.headers)
        if not call.model:
            call.model = endpoint.default_model(gateway.snapshot)
        request.scope["state"]["model"] = call.model  # for the request's log line
        model = resolve_model(gateway, caller, call.model, endpoint.modality)
        await endpoint.prepare(gateway, caller, call)
        cap = gateway.billing.default_cap(model, call.requested_cap) if endpoint.bills_output else 0
        r = await gateway.billing.reserve(
            caller, model, call.prompt_bound, cap, call.n, endpoint.name, call.stream, call.counts
        )
    except GatewayError as exc:
        # Refused before admission: no usage record, so counted apart from the settled requests.
        gateway.metrics.refused(endpoint.name, exc.status)
        raise
    ways = Ways(endpoint, call, r)
    expect = endpoint.expects(call)
    attempt = await _open(gateway, endpoint, ways, r, expect)
    if expect == BYTES:
        return ByteRelay(gateway, attempt, r, endpoint.bytes_usage(call), billing_headers(r))
    if expect == SSE or (expect == SSE_OR_JSON and attempt.payload is None):
        return _stream(gateway, ways, attempt)
    return await _reply(gateway, ways, attempt)


async def _open(gateway: Gateway, endpoint: Endpoint, ways: Ways, r: Reservation, expect: str) -> Attempt:
    """The first route that answers; on failure the hold is settled at 0 and the error re-raised."""
    failures = Failures()
    try:
        return await open_upstream(gateway, r.model, ways, expect, failures)
    except GatewayError as exc:
        error = endpoint.failed(exc, failures)
        settle_failed(gateway, r, error, failures)
        if error is exc:
            raise
        raise error from exc
    except BaseException as exc:
        settle_failed(gateway, r, exc, failures)
        raise


def _stream(gateway: Gateway, ways: Ways, attempt: Attempt) -> StreamRelay:
    endpoint, call, r = ways.endpoint, ways.call, ways.r
    if ways.native(attempt.adapter):
        dialect = endpoint.native_stream(call, r)
    else:
        encoder = endpoint.chat_encoder(call, r)
        dialect = ChatStream(attempt.adapter.stream_decoder(), encoder, endpoint.counted_prompt(call))
    if endpoint.bills_output:
        # The relay ends the stream at what was paid for, whatever the upstream does with the cap.
        dialect.meter.cap = r.output_cap * call.n

    async def after() -> None:
        await endpoint.stream_finished(gateway, call, r, dialect)

    return StreamRelay(gateway, attempt, r, dialect, billing_headers(r), after)


def _translated(ways: Ways, attempt: Attempt) -> tuple[bytes, Outcome, dict[str, Any]]:
    assert attempt.payload is not None
    endpoint, call, r = ways.endpoint, ways.call, ways.r
    completion = attempt.adapter.reply(attempt.payload)
    usage = openai_usage(completion)
    outcome = Outcome(usage or TokenUsage(), route=attempt.route)
    if usage is None:
        usage = TokenUsage(endpoint.counted_prompt(call), reply_tokens(completion))
        outcome = Outcome(usage, route=attempt.route, usage_source="counted")
    reply = endpoint.from_chat(call, r, completion, usage)
    # A chat completion from an OpenAI-compatible upstream goes out byte for byte.
    content = attempt.response.content if reply is attempt.payload else orjson.dumps(reply)
    return content, outcome, reply


def _native(ways: Ways, attempt: Attempt) -> tuple[NativeReply, Outcome, dict[str, Any]]:
    assert attempt.payload is not None
    endpoint, call = ways.endpoint, ways.call
    native = endpoint.native_reply(call, attempt.payload, attempt.response.content)
    if native.usage is not None:
        return (
            native,
            Outcome(native.usage, route=attempt.route, usage_source=native.usage_source),
            attempt.payload,
        )
    counted = TokenUsage(endpoint.counted_prompt(call), native.counted_output)
    return native, Outcome(counted, route=attempt.route, usage_source="counted"), attempt.payload


async def _reply(gateway: Gateway, ways: Ways, attempt: Attempt) -> Response:
    """A whole reply: translated or passed on, billed, then handed to the endpoint's `finished`."""
    r = ways.r
    try:
        if ways.native(attempt.adapter):
            native, outcome, reply = _native(ways, attempt)
            native = await ways.endpoint.complete_reply(gateway, ways.call, native)
            content, media_type = native.content, native.media_type
        else:
            content, outcome, reply = _translated(ways, attempt)
            media_type = JSON
    except GatewayError as exc:
        settle_failed(gateway, r, exc, Failures())
        raise
    public = PublicModel(ways.call.model)
    if media_type == JSON and public.differs(reply):
        # Customers see the catalogue's id, not the model the operator buys.
        content = public.bytes(content, reply["model"])
        reply["model"] = public.name
    gateway.billing.finish(r, outcome)
    await ways.endpoint.finished(gateway, ways.call, r, reply)
    return Response(content, 200, headers=billing_headers(r), media_type=media_type)
