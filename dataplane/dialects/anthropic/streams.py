"""Streams on the Anthropic Messages route (PROTOCOL §5.3, §5.5, §5.6 reverse direction).

Every event carries an `event:` line; keep-alives are `event: ping`; a failure after the headers
is `event: error` (then the stream closes); there is no `[DONE]`.

- `NativeMessages` (Anthropic provider): the upstream's events go out byte for byte; a copy of
  each is parsed for usage (`message_start` usage, then the cumulative `message_delta` usage).
- `MessagesEncoder` (any other provider, read as chat chunks): `message_start` goes out first with
  an input estimate; then one content block per text run, reasoning run and tool call (a block is
  closed before the next opens); `message_delta` with the stop reason and usage, and `message_stop`.

A stream cut short is billed for what was delivered: the native relay knows the real input
tokens from `message_start`, so only the output is estimated.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from dataplane.dialects.anthropic.errors import stream_error_type
from dataplane.dialects.anthropic.wire import STOP_REASONS, anthropic_usage, usage_from_anthropic
from dataplane.public_model import PublicModel
from dataplane.stream_relay import Meter
from dataplane.tokens import estimate_tokens
from shared.money import TokenUsage

log = logging.getLogger("tollgate.dataplane.streaming")

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def sse_event(payload: dict[str, Any]) -> bytes:
    """One Anthropic SSE event: `event: <type>` and the payload (which carries the same type)."""
    return b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def failure_event(code: str, message: str) -> bytes:
    """The `event: error` that ends a stream which failed after the headers were sent."""
    return sse_event({"type": "error", "error": {"type": stream_error_type(code), "message": message}})


def _delta_tokens(delta: Any) -> int:
    if not isinstance(delta, dict):
        return 0
    for name in ("text", "partial_json", "thinking"):
        if isinstance(delta.get(name), str):
            return estimate_tokens(delta[name])
    return 0


class NativeMessages:
    """An Anthropic provider's stream, relayed unchanged and metered from a parsed copy."""

    keepalive = PING

    def __init__(self, counted_prompt: int, model: str = "") -> None:
        self.meter = Meter()
        self.prompt = counted_prompt
        self.public = PublicModel(model)
        self.usage_fields: dict[str, Any] = {}
        self.open_block: int | None = None  # the index of the content block open, if any

    def opening(self) -> bytes:
        return b""

    def event(self, data: bytes, whole: bytes) -> bytes:
        """Meter one upstream event; it goes out as it came unless it is an error or not JSON."""
        if not data:
            return whole  # comments and the like
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("dropping a stream event that is not JSON: %r", data[:200])
            return b""
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "error":
            error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
            message = str(error.get("message") or "The upstream provider failed mid-stream.")
            self.meter.error = (str(error.get("type") or "api_error"), message)
            return b""  # the relay's own error event replaces it
        if kind == "message_start":
            message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
            self._usage(message.get("usage"))
            if self.public.differs(message):
                return self.public.bytes(whole, message["model"])  # the only event naming the model
        elif kind == "content_block_start":
            self.open_block = payload.get("index") if isinstance(payload.get("index"), int) else 0
        elif kind == "content_block_stop":
            self.open_block = None
        elif kind == "content_block_delta":
            tokens = _delta_tokens(payload.get("delta"))
            if not self.meter.take(tokens):
                return b""
        elif kind == "message_delta":
            self._usage(payload.get("usage"))
            self.meter.finished = True
        elif kind == "message_stop":
            self.meter.done = True
        return whole

    def _usage(self, fields: Any) -> None:
        if isinstance(fields, dict):
            self.usage_fields.update({k: v for k, v in fields.items() if v is not None})
            self.meter.usage = usage_from_anthropic(self.usage_fields)

    def closing(self) -> bytes:
        """Nothing (the upstream's own end went out), unless the relay cut the stream at the paid cap."""
        if not self.meter.capped:
            return b""
        events = []
        if self.open_block is not None:
            events.append(sse_event({"type": "content_block_stop", "index": self.open_block}))
        delta = {"stop_reason": "max_tokens", "stop_sequence": None}
        usage = anthropic_usage(self.counted_usage())
        events.append(sse_event({"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(sse_event({"type": "message_stop"}))
        return b"".join(events)

    def failure(self, code: str, message: str) -> bytes:
        return failure_event(code, message)

    def counted_usage(self) -> TokenUsage:
        usage = self.meter.usage
        if usage is None:
            return TokenUsage(self.prompt, self.meter.delivered_tokens)
        return TokenUsage(usage.prompt_tokens, self.meter.delivered_tokens, usage.cached_tokens)


class MessagesEncoder:
    """Chat chunks re-told as Anthropic stream events."""

    keepalive = PING

    def __init__(self, message_id: str, model: str, counted_prompt: int) -> None:
        self.message_id = message_id
        self.model = model
        self.prompt = counted_prompt
        self.index = -1  # the index of the last block opened
        self.open: str | None = None  # "text", "thinking" or "tool:<n>" while a block is open
        self.tools: dict[int, int] = {}  # OpenAI tool call index → block index

    def opening(self) -> bytes:
        message = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": anthropic_usage(TokenUsage(self.prompt, 1)),
        }
        return sse_event({"type": "message_start", "message": message})

    def chunk(self, data: bytes, chunk: dict[str, Any]) -> bytes:
        choices = chunk.get("choices")
        if not choices or not isinstance(choices[0], dict):
            return b""
        delta = choices[0].get("delta")
        return b"".join(self._delta(delta)) if isinstance(delta, dict) else b""

    def _delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        for kind, name, delta_type in (
            ("thinking", "reasoning_content", "thinking_delta"),
            ("text", "content", "text_delta"),
        ):
            piece = delta.get(name)
            if isinstance(piece, str) and piece:
                if self.open != kind:
                    block = {"type": kind, kind: ""}
                    if kind == "thinking":
                        block["signature"] = ""
                    out += self._start(kind, block)
                out.append(self._block_delta(self.index, {"type": delta_type, kind: piece}))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out += self._tool_call(call)
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        number = call.get("index", 0) if isinstance(call.get("index"), int) else 0
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        if number not in self.tools:
            block = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{self.message_id.removeprefix('msg_')}_{number}",
                "name": function.get("name") or "",
                "input": {},
            }
            out += self._start(f"tool:{number}", block)
            self.tools[number] = self.index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(self._block_delta(self.tools[number], delta))
        return out

    def _start(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        out = self._stop()
        self.index += 1
        self.open = kind
        out.append(sse_event({"type": "content_block_start", "index": self.index, "content_block": block}))
        return out

    def _stop(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [sse_event({"type": "content_block_stop", "index": self.index})]

    def _block_delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return sse_event({"type": "content_block_delta", "index": index, "delta": delta})

    def closing(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        stop_reason = STOP_REASONS.get(str(finish_reason), "end_turn")
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        events = self._stop()
        events.append(sse_event({"type": "message_delta", "delta": delta, "usage": anthropic_usage(usage)}))
        events.append(sse_event({"type": "message_stop"}))
        return b"".join(events)

    def failure(self, code: str, message: str) -> bytes:
        # An OpenAI-side code is no Anthropic error type: only our own timeout keeps its name.
        return failure_event(code if code == "upstream_timeout" else "upstream_error", message)
