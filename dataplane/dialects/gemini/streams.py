"""Streams on the Gemini routes (`streamGenerateContent?alt=sse`).

Each event is `data: <GenerateContentResponse>`; there is no end marker (the stream ends when the
connection closes, after the event with the finish reason and the whole usage). Keep-alives are
blank lines: Google's SDKs read any other line that is not `data:` as part of a JSON body.

- `NativeGenerate` (Gemini provider): the upstream's events go out byte for byte; a copy of each
  is parsed for usage (every event carries the usage so far) and for the finish reason.
- `GenerateEncoder` (any other provider, read as chat chunks): text and thoughts go out as they
  come; a tool call's arguments arrive in pieces, so each call goes out whole in the last event,
  with the finish reasons and the usage.

A stream the relay cut at the paid cap ends with an event of finishReason MAX_TOKENS.
"""

from __future__ import annotations

from typing import Any

import orjson

from dataplane.dialects.gemini.errors import stream_failure
from dataplane.dialects.gemini.tokens import candidates_tokens
from dataplane.dialects.gemini.wire import FINISH_REASONS, function_call, gemini_usage
from dataplane.stream_relay import Meter
from dataplane.upstreams.gemini_wire import usage_from_gemini
from shared.money import TokenUsage

KEEPALIVE = b"\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _finished(payload: dict[str, Any]) -> bool:
    return any(isinstance(c, dict) and c.get("finishReason") for c in payload.get("candidates") or ())


class NativeGenerate:
    """A Gemini provider's stream, relayed unchanged and metered from a parsed copy."""

    keepalive = KEEPALIVE

    def __init__(self, counted_prompt: int, model: str) -> None:
        self.meter = Meter()
        self.prompt = counted_prompt
        self.model = model

    def opening(self) -> bytes:
        return b""

    def event(self, data: bytes, whole: bytes) -> bytes:
        """Meter one upstream event; it goes out as it came unless it is an error or not JSON."""
        if not data:
            return b""
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(payload, dict):
            return b""
        error = payload.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "The upstream provider failed mid-stream.")
            self.meter.error = (str(error.get("status") or "upstream_error"), message)
            return b""  # the relay's own error event replaces it
        if not self.meter.take(candidates_tokens(payload)):
            return b""
        usage = usage_from_gemini(payload.get("usageMetadata"))
        if usage is not None:
            self.meter.usage = usage
        if _finished(payload) or (payload.get("promptFeedback") or {}).get("blockReason"):
            self.meter.finished = True
        return whole

    def closing(self) -> bytes:
        """Nothing (the upstream's last event went out), unless the relay cut the stream at the paid cap."""
        if not self.meter.capped:
            return b""
        candidate = {"content": {"role": "model", "parts": []}, "finishReason": "MAX_TOKENS", "index": 0}
        usage = gemini_usage(self.counted_usage())
        return sse_event({"candidates": [candidate], "usageMetadata": usage, "modelVersion": self.model})

    def failure(self, code: str, message: str) -> bytes:
        return stream_failure(code, message)

    def counted_usage(self) -> TokenUsage:
        usage = self.meter.usage
        if usage is None:
            return TokenUsage(self.prompt, self.meter.delivered_tokens)
        return TokenUsage(usage.prompt_tokens, self.meter.delivered_tokens, usage.cached_tokens)


class GenerateEncoder:
    """Chat chunks re-told as Gemini stream events."""

    keepalive = KEEPALIVE

    def __init__(self, model: str, response_id: str) -> None:
        self.model = model
        self.response_id = response_id
        self.calls: dict[int, dict[int, dict[str, Any]]] = {}  # choice → tool call index → the call so far
        self.finishes: dict[int, str] = {}  # choice → OpenAI finish reason

    def opening(self) -> bytes:
        return b""

    def _event(self, candidates: list[dict[str, Any]], usage: TokenUsage | None = None) -> bytes:
        payload: dict[str, Any] = {"candidates": candidates}
        if usage is not None:
            payload["usageMetadata"] = gemini_usage(usage)
        payload.update({"modelVersion": self.model, "responseId": self.response_id})
        return sse_event(payload)

    def chunk(self, data: bytes, chunk: dict[str, Any]) -> bytes:
        candidates = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or not isinstance(choice.get("delta"), dict):
                continue
            index = choice.get("index") if isinstance(choice.get("index"), int) else 0
            if choice.get("finish_reason"):
                self.finishes[index] = str(choice["finish_reason"])
            parts = self._parts(index, choice["delta"])
            if parts:
                candidates.append({"content": {"role": "model", "parts": parts}, "index": index})
        return self._event(candidates) if candidates else b""

    def _parts(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
            parts.append({"text": delta["reasoning_content"], "thought": True})
        if isinstance(delta.get("content"), str) and delta["content"]:
            parts.append({"text": delta["content"]})
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            number = call.get("index") if isinstance(call.get("index"), int) else 0
            held = self.calls.setdefault(index, {}).setdefault(number, {"function": {}, "arguments": ""})
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            if call.get("id"):
                held["id"] = call["id"]
            if function.get("name"):
                held["function"]["name"] = function["name"]
            held["arguments"] += str(function.get("arguments") or "")
        return parts

    def closing(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        indexes = sorted(set(self.calls) | set(self.finishes)) or [0]
        candidates = []
        for index in indexes:
            calls = self.calls.get(index, {})
            parts = [function_call(held, held["arguments"]) for _, held in sorted(calls.items())]
            finish = self.finishes.get(index) or finish_reason
            candidate: dict[str, Any] = {
                "finishReason": FINISH_REASONS.get(str(finish), "STOP"),
                "index": index,
            }
            candidate["content"] = {"role": "model", "parts": parts}
            candidates.append(candidate)
        return self._event(candidates, usage)

    def failure(self, code: str, message: str) -> bytes:
        # An OpenAI-side code is no Google status: only our own timeout keeps its meaning.
        return stream_failure(code if code == "upstream_timeout" else "upstream_error", message)
