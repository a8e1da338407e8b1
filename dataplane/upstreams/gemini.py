"""Google's Gemini API behind the OpenAI chat and embeddings APIs: the adapter and its stream decoder.

The translation itself is in `gemini_wire.py`. The provider's base URL includes the version, e.g.
https://generativelanguage.googleapis.com/v1beta.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import orjson

from dataplane.snapshot import RouteInfo
from dataplane.upstreams.gemini_wire import (
    EMBEDDINGS_PATH,
    candidate_parts,
    finish_reason,
    model_path,
    openai_usage_fields,
    to_batch_embed,
    to_completion,
    to_gemini_body,
    tool_call,
    usage_from_gemini,
)
from dataplane.upstreams.openai import HttpUpstream
from shared.money import TokenUsage


class GenerateStream:
    """Gemini stream events (`alt=sse`: each a GenerateContentResponse) → OpenAI chunks.

    Gemini's stream has no end marker: it ends when the connection closes, after the event with
    the finish reason (and the whole usage). Each function call arrives whole, in one event.
    """

    def __init__(self) -> None:
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.model: Any = None
        self.started: set[int] = set()  # candidates whose first chunk (with the role) went out
        self.calls: dict[int, int] = {}  # candidate → tool calls sent so far

    def _chunk(self, choices: list[dict[str, Any]], usage: TokenUsage | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = openai_usage_fields(usage)
        return orjson.dumps(chunk)

    def decode(self, data: bytes) -> tuple[list[bytes], bool]:
        event = orjson.loads(data)
        if not isinstance(event, dict):
            return [], False
        if isinstance(event.get("error"), dict):
            error = event["error"]
            message = str(error.get("message") or "The upstream provider failed mid-stream.")
            return [
                orjson.dumps(
                    {"error": {"message": message, "code": str(error.get("status") or "upstream_error")}}
                )
            ], False
        if self.model is None:
            self.model = event.get("modelVersion")
            if event.get("responseId"):
                self.id = "chatcmpl-" + str(event["responseId"])
        out = []
        finished = False
        for i, candidate in enumerate(c for c in event.get("candidates") or () if isinstance(c, dict)):
            index = candidate.get("index", i) if isinstance(candidate.get("index"), int) else i
            delta, finish = self._delta(index, candidate)
            finished = finished or finish is not None
            out.append(
                self._chunk([{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}])
            )
        if not event.get("candidates") and (event.get("promptFeedback") or {}).get("blockReason"):
            finished = True
            out.append(
                self._chunk([{"index": 0, "delta": {"role": "assistant"}, "finish_reason": "content_filter"}])
            )
        usage = usage_from_gemini(event.get("usageMetadata"))
        if finished and usage is not None:
            out.append(self._chunk([], usage))
        return out, False

    def _delta(self, index: int, candidate: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        delta: dict[str, Any] = {}
        if index not in self.started:
            self.started.add(index)
            delta["role"] = "assistant"
        parts = candidate_parts(candidate)
        text = "".join(str(p.get("text", "")) for p in parts if "text" in p and not p.get("thought"))
        thoughts = "".join(str(p.get("text", "")) for p in parts if "text" in p and p.get("thought"))
        if thoughts:
            delta["reasoning_content"] = thoughts
        if text or "role" in delta:
            delta["content"] = text
        calls = []
        for part in parts:
            if isinstance(part.get("functionCall"), dict):
                call = {"index": self.calls.get(index, 0), **tool_call(part)}
                self.calls[index] = call["index"] + 1
                calls.append(call)
        if calls:
            delta["tool_calls"] = calls
        return delta, finish_reason(candidate, index in self.calls)


class GeminiUpstream(HttpUpstream):
    """Google's Gemini API, spoken to OpenAI clients (and natively to Gemini clients)."""

    def native_request(
        self, route: RouteInfo, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Request:
        """`path` is a method of the route's model (`:generateContent`, ...), or `/embeddings`."""
        headers = self.json_headers(route, headers)
        if path == EMBEDDINGS_PATH:
            payload, path = to_batch_embed(payload, route.upstream_model), ":batchEmbedContents"
        payload.pop("model", None)
        return self.http.post(route, model_path(route.upstream_model) + path, payload, headers)

    def chat_request(
        self, route: RouteInfo, body: dict[str, Any], request_id: str, output_cap: int
    ) -> httpx.Request:
        payload = to_gemini_body(body, output_cap)
        if body.get("stream"):
            headers = {"x-request-id": request_id, "accept": "text/event-stream"}
            return self.native_request(route, ":streamGenerateContent?alt=sse", payload, headers)
        return self.native_request(route, ":generateContent", payload, {"x-request-id": request_id})

    def reply(self, payload: dict[str, Any]) -> dict[str, Any]:
        return to_completion(payload)

    def stream_decoder(self) -> GenerateStream:
        return GenerateStream()
