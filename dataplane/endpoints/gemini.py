"""Gemini's `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.

Also served as `/v1/models/...` (google-genai's default API version), under the gateway's usual
prefixes. The model is the catalogue slug: everything in the path between `/models/` and the
method, slashes included (`/v1beta/models/acme/chat-1:generateContent`; google-genai sends
`model="acme/chat-1"` that way), `%2F` for a slash also works.

Natively (Gemini providers) the body goes as sent, with field names in one spelling and
`generationConfig.maxOutputTokens` set to what billing granted; the reply and the stream go out
unchanged and are metered from `usageMetadata`. Any other provider gets a translated chat
completion, and its reply and stream are translated back (dataplane/dialects/gemini/). Errors
on these routes are in Google's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt, read_json
from dataplane.dialects.gemini.errors import GEMINI
from dataplane.dialects.gemini.streams import GenerateEncoder, NativeGenerate
from dataplane.dialects.gemini.tokens import (
    candidates_tokens,
    estimate_generate_tokens,
    generate_prompt_bound,
)
from dataplane.dialects.gemini.wire import (
    GenerateRequest,
    parse_generate,
    response_id,
    to_chat_body,
    to_generate_response,
)
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import bad_request
from dataplane.snapshot import RouteInfo
from dataplane.upstreams.base import Upstream
from dataplane.upstreams.gemini_wire import usage_from_gemini
from shared.money import TokenUsage
from shared.settings import Settings

JSON = "application/json"
STREAM_METHOD = ":streamGenerateContent"
METHODS = (":generateContent", STREAM_METHOD)


@dataclass
class GeminiBody:
    """A request body with what the path says: the model, and whether it streams."""

    body: dict[str, Any]
    model: str
    stream: bool


class Generate(Endpoint):
    name = "gemini"
    paths = tuple(
        f"/{version}/models/{{model:path}}{method}" for version in ("v1beta", "v1") for method in METHODS
    )
    family = GEMINI

    async def read(self, request: Request, settings: Settings) -> tuple[bytes, Any]:
        raw, body = await read_json(request, settings.max_body_bytes)
        stream = request.url.path.endswith(STREAM_METHOD)
        if stream and request.query_params.get("alt") != "sse":
            raise bad_request("alt", "streams are served as server-sent events only: add `?alt=sse`.")
        model = str(request.path_params.get("model") or "").removeprefix("models/")
        if not model:
            raise bad_request("model", "the path must name a model: /v1beta/models/<model>:generateContent.")
        return raw, GeminiBody(body, model, stream)

    def parse(self, raw: bytes, body: GeminiBody, headers: httpx.Headers | Any) -> Call:
        wanted: GenerateRequest = parse_generate(body.body, body.stream)
        bound = bounded_prompt(generate_prompt_bound(raw, wanted.body))
        return Call(
            body.model, body.stream, bound, wanted.max_output_tokens, wanted, n=wanted.candidate_count
        )

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        wanted: GenerateRequest = call.parsed
        payload = dict(wanted.body)
        if wanted.max_output_tokens is None or wanted.max_output_tokens > r.output_cap:
            payload["generationConfig"] = {
                **payload.get("generationConfig", {}),
                "maxOutputTokens": r.output_cap,
            }
        headers = {"x-request-id": r.caller.request_id}
        if wanted.stream:
            headers["accept"] = "text/event-stream"
            return adapter.native_request(route, STREAM_METHOD + "?alt=sse", payload, headers)
        return adapter.native_request(route, ":generateContent", payload, headers)

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        usage = usage_from_gemini(payload.get("usageMetadata"))
        return NativeReply(content, usage, candidates_tokens(payload) if usage is None else 0)

    def native_stream(self, call: Call, r: Reservation) -> NativeGenerate:
        return NativeGenerate(self.counted_prompt(call), call.model)

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        return to_chat_body(call.parsed, call.model, r.output_cap)

    def from_chat(
        self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage
    ) -> dict[str, Any]:
        return to_generate_response(completion, call.model, usage, response_id(r.caller.request_id))

    def chat_encoder(self, call: Call, r: Reservation) -> GenerateEncoder:
        return GenerateEncoder(call.model, response_id(r.caller.request_id))

    def counted_prompt(self, call: Call) -> int:
        return estimate_generate_tokens(call.parsed.body)


ENDPOINT = Generate()
