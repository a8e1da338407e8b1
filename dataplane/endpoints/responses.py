"""OpenAI's Responses API: `POST /v1/responses`, and `GET` / `DELETE /v1/responses/{id}` (PROTOCOL §4.8).

Natively (OpenAI-compatible providers) the body passes through; on other routes it is translated
onto chat completions and the reply or the stream is re-told as a Response
(dataplane/dialects/responses/). Either way, with `store` (the default) the gateway keeps the
response it delivered for its owner (shared/responses_store.py), so `previous_response_id` works
on every route: the stored conversation is put in front of the new input, and the provider is
sent the whole conversation rather than an id only the gateway knows.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.auth import authenticate
from dataplane.billing import Caller, Reservation
from dataplane.bodies import bounded_prompt
from dataplane.dialects.responses.streams import NativeResponsesMeter, ResponsesEncoder
from dataplane.dialects.responses.wire import (
    ResponsesRequest,
    input_items,
    parse_responses,
    response_id,
    to_chat_body,
    to_response,
    usage_from_responses,
)
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import GatewayError, bad_request
from dataplane.gateway import Gateway
from dataplane.public_model import PublicModel
from dataplane.snapshot import RouteInfo
from dataplane.stream_relay import KEEPALIVE, Meter
from dataplane.tokens import IMAGE_TOKENS, OVERHEAD_TOKENS, estimate_tokens
from dataplane.upstreams.base import Upstream
from shared import responses_store
from shared.money import TokenUsage

JSON = "application/json"
MEDIA_TYPES = ("input_image", "input_file")
DROPPED_NATIVE_FIELDS = ("previous_response_id",)


def _texts(value: Any) -> list[str]:
    """Every string under `text`, `output`, `arguments` or `content` keys of an item tree."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, dict):
        keys = ("text", "output", "arguments", "content", "input")
        return [t for k in keys if k in value for t in _texts(value[k])]
    return []


def _media_allowance(items: list[Any]) -> tuple[int, int]:
    """(bytes of media data, token allowance) in the items' content parts."""
    size = allowance = 0
    for item in items:
        content = item.get("content") if isinstance(item, dict) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") in MEDIA_TYPES:
                data = part.get("image_url") or part.get("file_data") or ""
                # Each file is allowed its own decoded size (a running total would grow as N²).
                own = len(data) if isinstance(data, str) else 0
                size += own
                allowance += max(IMAGE_TOKENS, own * 3 // 4 if part["type"] == "input_file" else 0)
    return size, allowance


def prompt_bound(raw: bytes, history: list[dict[str, Any]], req: ResponsesRequest) -> int:
    """An upper bound on the prompt tokens: the bytes of the body and of the stored conversation."""
    bound = len(raw) + len(orjson.dumps(history)) + OVERHEAD_TOKENS
    if not any(marker.encode() in raw for marker in MEDIA_TYPES) and b"input_" not in orjson.dumps(history):
        return bounded_prompt(bound)
    size, allowance = _media_allowance([*history, *input_items(req)])
    return bounded_prompt(max(bound - size + allowance, OVERHEAD_TOKENS))


class NativeResponses:
    """An OpenAI provider's Responses stream, relayed unchanged and metered from a parsed copy."""

    keepalive = KEEPALIVE

    def __init__(self, counted_prompt: int, model: str = "") -> None:
        self.meter = Meter()
        self.copy = NativeResponsesMeter()
        self.prompt = counted_prompt
        self.public = PublicModel(model)
        self.started: dict[str, Any] = {}  # the response object of `response.created`
        self.sequence = 0
        # What went out, to tell it again in the `response.incomplete` of a stream cut at the cap.
        self.items: dict[str, dict[str, Any]] = {}
        self.texts: dict[str, str] = {}

    def _item(self, item: Any) -> None:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            self.items[item["id"]] = item

    def _output(self) -> list[dict[str, Any]]:
        output = []
        for item_id, item in self.items.items():
            if item.get("type") == "message" and item.get("status") != "completed":
                text = self.texts.get(item_id, "")
                part = {"type": "output_text", "text": text, "annotations": []}
                item = {**item, "status": "incomplete", "content": [part]}
            output.append(item)
        return output

    def opening(self) -> bytes:
        return b""

    def event(self, data: bytes, whole: bytes) -> bytes:
        try:
            payload = orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(payload, dict):
            return whole
        kind = payload.get("type")
        if kind == "response.created" and isinstance(payload.get("response"), dict):
            self.started = payload["response"]
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._item(payload.get("item"))
        if isinstance(payload.get("sequence_number"), int):
            self.sequence = payload["sequence_number"]
        before = self.copy.delivered_tokens
        self.copy.feed(kind, payload)
        if self.copy.delivered_tokens > before:
            tokens = self.copy.delivered_tokens - before
            if not self.meter.take(tokens):
                return b""
            if kind == "response.output_text.delta":
                item_id = str(payload.get("item_id"))
                self.texts[item_id] = self.texts.get(item_id, "") + payload["delta"]
        self.meter.usage = self.copy.usage
        self.meter.finished = self.meter.done = self.copy.finished
        if self.copy.error is not None:
            self.meter.error = self.copy.error
            return b""
        if self.public.differs(payload.get("response")):
            # The events that carry the response object (created, in progress, completed) name the model.
            payload["response"]["model"] = self.public.name
            return self.public.bytes(whole)
        return whole

    def closing(self) -> bytes:
        """Nothing (the upstream's own end went out), unless the relay cut the stream at the paid cap."""
        if not self.meter.capped:
            return b""
        usage = self.counted_usage()
        response = {
            **self.started,
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": self._output(),
            "usage": {
                "input_tokens": usage.prompt_tokens,
                "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }
        payload = {"type": "response.incomplete", "sequence_number": self.sequence + 1, "response": response}
        return b"event: response.incomplete\ndata: " + orjson.dumps(payload) + b"\n\n"

    def failure(self, code: str, message: str) -> bytes:
        return _error_event(code, message)

    def counted_usage(self) -> TokenUsage:
        return TokenUsage(self.prompt, self.meter.delivered_tokens)


def _error_event(code: str, message: str) -> bytes:
    payload = {"type": "error", "code": code, "message": message, "param": None, "sequence_number": 0}
    return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"


class ResponsesChunks:
    """Chat chunks re-told as Responses events (translated routes)."""

    keepalive = KEEPALIVE

    def __init__(self, encoder: ResponsesEncoder) -> None:
        self.encoder = encoder

    def opening(self) -> bytes:
        return self.encoder.start()

    def chunk(self, data: bytes, chunk: dict[str, Any]) -> bytes:
        return self.encoder.feed(chunk)

    def closing(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        return self.encoder.finish(usage, finish_reason)

    def failure(self, code: str, message: str) -> bytes:
        return self.encoder.fail(code, message)


class Responses(Endpoint):
    name = "responses"
    paths = ("/responses",)

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        req = parse_responses(raw, body)
        return Call(req.model, req.stream, prompt_bound(raw, [], req), req.max_output_tokens, req)

    async def prepare(self, gateway: Gateway, caller: Caller, call: Call) -> None:
        """Load the stored conversation a `previous_response_id` continues (400 when there is none)."""
        req: ResponsesRequest = call.parsed
        history: list[dict[str, Any]] = []
        if req.previous_response_id:
            found = await gateway.run_db(
                responses_store.conversation, caller.key.user_id, req.previous_response_id
            )
            if found is None:
                raise bad_request(
                    "previous_response_id",
                    f"Previous response with id '{req.previous_response_id}' not found.",
                )
            history = found
        call.extra["history"] = history
        call.extra["created_at"] = int(time.time())
        call.prompt_bound = prompt_bound(req.raw, history, req)

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        req: ResponsesRequest = call.parsed
        body = {k: v for k, v in req.body.items() if k not in DROPPED_NATIVE_FIELDS}
        history = call.extra.get("history") or []
        if history:
            own = [
                {k: v for k, v in item.items() if k != "id"}
                for item in history
                if item.get("type") != "reasoning"
            ]
            body["input"] = own + input_items(req)
        if r.lowered:
            body["max_output_tokens"] = r.output_cap
        return adapter.native_request(route, "/responses", body, {"x-request-id": r.caller.request_id})

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        output = payload.get("output")
        counted = sum(estimate_tokens(t) for t in _texts(output))
        return NativeReply(content, usage_from_responses(payload.get("usage")), counted)

    def native_stream(self, call: Call, r: Reservation) -> NativeResponses:
        return NativeResponses(self.counted_prompt(call), call.model)

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        return to_chat_body(call.parsed, call.extra.get("history") or [], r.output_cap)

    def from_chat(
        self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage
    ) -> dict[str, Any]:
        rid = response_id(r.caller.request_id)
        return to_response(completion, rid, call.model, call.parsed, usage, call.extra["created_at"])

    def chat_encoder(self, call: Call, r: Reservation) -> ResponsesChunks:
        rid = response_id(r.caller.request_id)
        return ResponsesChunks(ResponsesEncoder(rid, call.model, call.parsed, call.extra["created_at"]))

    def counted_prompt(self, call: Call) -> int:
        req: ResponsesRequest = call.parsed
        texts = _texts(call.extra.get("history") or []) + _texts(input_items(req))
        instructions = req.body.get("instructions")
        return sum(estimate_tokens(t) for t in texts) + estimate_tokens(instructions or "") + 4

    async def finished(self, gateway: Gateway, call: Call, r: Reservation, reply: dict[str, Any]) -> None:
        await _store(gateway, call, r, reply)

    async def stream_finished(self, gateway: Gateway, call: Call, r: Reservation, dialect: Any) -> None:
        if isinstance(dialect, NativeResponses):
            await _store(gateway, call, r, dialect.copy.response)
        else:
            await _store(gateway, call, r, dialect.encoder.encoder.response)


async def _store(gateway: Gateway, call: Call, r: Reservation, response: dict[str, Any] | None) -> None:
    """Keep a delivered response for its owner when the client asked for `store` (the default)."""
    req: ResponsesRequest = call.parsed
    retention_s = gateway.settings.response_retention_days * 86_400
    if not req.store or retention_s <= 0 or not isinstance(response, dict) or not response.get("id"):
        return
    response = {**response, "model": call.model}  # as the customer saw it, not the upstream's name
    key = r.caller.key
    await gateway.run_db(
        responses_store.save_response,
        key.user_id,
        key.id,
        call.model,
        response,
        input_items(req),
        req.previous_response_id,
        retention_s,
    )


ENDPOINT = Responses()


def _not_found(rid: str) -> GatewayError:
    return GatewayError(404, f"No response found with id '{rid}'.", code="not_found", param="response_id")


async def _owner(request: Request) -> tuple[Gateway, Caller, str]:
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    return gateway, caller, request.path_params["response_id"]


async def get_response(request: Request) -> Response:
    """GET /v1/responses/{id}: a stored response of the caller's."""
    gateway, caller, rid = await _owner(request)
    found = await gateway.run_db(responses_store.load_response, caller.key.user_id, rid)
    if found is None:
        raise _not_found(rid)
    return Response(orjson.dumps(found), media_type=JSON)


async def get_input_items(request: Request) -> Response:
    """GET /v1/responses/{id}/input_items: the input a stored response was given."""
    gateway, caller, rid = await _owner(request)
    items = await gateway.run_db(responses_store.input_items, caller.key.user_id, rid)
    if items is None:
        raise _not_found(rid)
    page = {
        "object": "list",
        "data": items,
        "first_id": items[0].get("id") if items else None,
        "last_id": items[-1].get("id") if items else None,
        "has_more": False,
    }
    return Response(orjson.dumps(page), media_type=JSON)


async def delete_response(request: Request) -> Response:
    """DELETE /v1/responses/{id}: forget a stored response of the caller's."""
    gateway, caller, rid = await _owner(request)
    if not await gateway.run_db(responses_store.delete_response, caller.key.user_id, rid):
        raise _not_found(rid)
    return Response(orjson.dumps({"id": rid, "object": "response", "deleted": True}), media_type=JSON)
