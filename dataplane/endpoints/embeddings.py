"""`POST /v1/embeddings` (PROTOCOL §4.1): served only by providers that have embeddings natively.

The upstream is always asked for float vectors (many OpenAI-compatible upstreams cannot do
base64); when the client asked for base64, the gateway packs each vector as little-endian float32.
Gemini providers take the same body: their adapter sends it as `batchEmbedContents`, and the
reply is turned into OpenAI's shape here (dataplane/upstreams/gemini_wire.py).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import orjson

from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt, parse_embeddings
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import upstream_error
from dataplane.snapshot import RouteInfo
from dataplane.tokens import embeddings_prompt_bound, input_tokens
from dataplane.upstreams import gemini_wire
from dataplane.upstreams.base import Upstream, openai_usage


def base64_vectors(payload: dict[str, Any]) -> bytes:
    """The reply with every float vector packed as base64 little-endian float32."""
    try:
        for item in payload.get("data") or ():
            vector = item.get("embedding") if isinstance(item, dict) else None
            if isinstance(vector, list):
                packed = struct.pack(f"<{len(vector)}f", *vector)
                item["embedding"] = base64.b64encode(packed).decode("ascii")
    except (struct.error, TypeError) as exc:
        raise upstream_error(
            "The upstream provider returned an embedding that is not a list of numbers."
        ) from exc
    return orjson.dumps(payload)


class Embeddings(Endpoint):
    name = "embeddings"
    paths = ("/embeddings",)
    modality = "embedding"
    bills_output = False
    translatable = False

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        wanted = parse_embeddings(body)
        bound = bounded_prompt(embeddings_prompt_bound(body["input"]))
        return Call(wanted.model, False, bound, None, wanted)

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        body = {**call.parsed.body, "encoding_format": "float"}
        # Routes are tried one after another, so the last request built is the one that answers.
        call.extra["kind"] = adapter.kind.name
        return adapter.native_request(route, "/embeddings", body, {"x-request-id": r.caller.request_id})

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        if call.extra.get("kind") == "gemini":
            payload, usage = gemini_wire.openai_embeddings(payload, call.model, self.counted_prompt(call))
            content = orjson.dumps(payload)
        else:
            usage = openai_usage(payload)
        if call.parsed.base64:
            content = base64_vectors(payload)
        return NativeReply(content, usage, 0)

    def counted_prompt(self, call: Call) -> int:
        return input_tokens(call.parsed.body["input"])


ENDPOINT = Embeddings()
