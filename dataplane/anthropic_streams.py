"""Streams on the Anthropic Messages route (PROTOCOL §5.3, §5.5, §5.6 reverse direction).

Both relays reuse `SSERelay` (keep-alives, disconnects, exactly-once settlement) and differ in
how upstream events become client bytes. Every event carries an `event:` line; keep-alives are
`event: ping`; a failure after the headers is `event: error` (then the stream closes); there is
no `[DONE]`.

- `NativeRelay` (Anthropic upstream): the upstream's events go out byte for byte; a copy of each
  is parsed for usage (`message_start` usage, then the cumulative `message_delta` usage).
- `TranslatedRelay` (OpenAI-compatible upstream): `message_start` goes out first with an input
  estimate; then one content block per text run, reasoning run and tool call (a block is closed
  before the next opens); `message_delta` with the stop reason and usage, and `message_stop`.

A stream cut short is billed for what was delivered: the native relay knows the real input
tokens from `message_start`, so only the output is estimated.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.types import Send

from dataplane.anthropic_errors import stream_error_type
from dataplane.anthropic_tokens import estimate_messages_tokens
from dataplane.anthropic_wire import STOP_REASONS, anthropic_usage, usage_from_anthropic
from dataplane.billing import Reservation
from dataplane.failover import Attempt
from dataplane.gateway import Gateway
from dataplane.streaming import SSERelay, delivered_tokens, event_error, parse_event
from dataplane.tokens import estimate_prompt_tokens, estimate_tokens
from dataplane.upstreams.base import openai_usage
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


class NativeRelay(SSERelay):
    """An Anthropic upstream's stream, relayed unchanged and metered from a parsed copy."""

    keepalive = PING

    def __init__(
        self,
        gateway: Gateway,
        attempt: Attempt,
        r: Reservation,
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> None:
        super().__init__(gateway, attempt, r, body, False, headers)
        self.usage_fields: dict[str, Any] = {}

    def _events(self, buffer: bytes) -> tuple[bytes, bytes]:
        out = []
        state = self.state
        while not (state.done or state.error):
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            event, buffer = buffer[: end + 2], buffer[end + 2 :]
            if self._account(event):
                out.append(event)
        return b"".join(out), buffer

    def _account(self, event: bytes) -> bool:
        """Meter one upstream event; whether it goes out to the client."""
        data = b"\n".join(line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))
        if not data:
            return True  # comments and the like
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("dropping a stream event that is not JSON: %r", data[:200])
            return False
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "error":
            error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
            message = str(error.get("message") or "The upstream provider failed mid-stream.")
            self.state.error = (str(error.get("type") or "api_error"), message)
            return False  # the relay's own error event replaces it
        if kind == "message_start":
            message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
            self._usage(message.get("usage"))
        elif kind == "content_block_delta":
            self._delivered(_delta_tokens(payload.get("delta")))
        elif kind == "message_delta":
            self._usage(payload.get("usage"))
            self.state.finished = True
        elif kind == "message_stop":
            self.state.done = True
        return True

    def _usage(self, fields: Any) -> None:
        if isinstance(fields, dict):
            self.usage_fields.update({k: v for k, v in fields.items() if v is not None})
            self.state.usage = usage_from_anthropic(self.usage_fields)

    def _delivered(self, tokens: int) -> None:
        if self.state.first_at is None:
            self.state.first_at = time.monotonic()
        self.state.delivered_tokens += tokens

    def _failure_bytes(self, code: str, message: str) -> bytes:
        return failure_event(code, message)

    def _end_bytes(self) -> bytes:
        return b""

    def _counted_usage(self) -> TokenUsage:
        usage = self.state.usage
        if usage is None:
            return TokenUsage(estimate_messages_tokens(self.body), self.state.delivered_tokens)
        return TokenUsage(usage.prompt_tokens, self.state.delivered_tokens, usage.cached_tokens)


class TranslatedRelay(SSERelay):
    """An OpenAI-compatible upstream's chunks, re-told as Anthropic stream events."""

    keepalive = PING

    def __init__(
        self,
        gateway: Gateway,
        attempt: Attempt,
        r: Reservation,
        chat_body: dict[str, Any],
        headers: dict[str, str],
        message: tuple[str, str],
    ) -> None:
        super().__init__(gateway, attempt, r, chat_body, True, headers)
        self.message_id, self.model = message
        self.index = -1  # the index of the last block opened
        self.open: str | None = None  # "text", "thinking" or "tool:<n>" while a block is open
        self.tools: dict[int, int] = {}  # OpenAI tool call index → block index
        self.stop_reason = "end_turn"

    async def _pump(self, send: Send) -> None:
        await self._write(send, self._message_start())
        await super()._pump(send)

    def _message_start(self) -> bytes:
        usage = TokenUsage(estimate_prompt_tokens(self.body), 1)
        message = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": anthropic_usage(usage),
        }
        return sse_event({"type": "message_start", "message": message})

    def _chunk(self, data: bytes) -> bytes:
        state = self.state
        chunk = parse_event(data)
        if chunk is None:
            return b""
        error = event_error(chunk)
        if error is not None:
            # OpenAI's error codes are not Anthropic error types; the message is what matters.
            state.error = ("upstream_error", error[1])
            return b""
        usage = openai_usage(chunk)
        if usage is not None:
            state.usage = usage
        choices = chunk.get("choices")
        if not choices or not isinstance(choices[0], dict):
            return b""
        tokens, finished = delivered_tokens(choices[:1])
        state.delivered_tokens += tokens
        if finished:
            state.finished = True
            self.stop_reason = STOP_REASONS.get(str(choices[0].get("finish_reason")), "end_turn")
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
        if self.state.first_at is None:
            self.state.first_at = time.monotonic()
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

    def _failure_bytes(self, code: str, message: str) -> bytes:
        return failure_event(code, message)

    def _end_bytes(self) -> bytes:
        state = self.state
        usage = anthropic_usage(state.usage or self._counted_usage())
        delta = {"stop_reason": self.stop_reason, "stop_sequence": None}
        events = self._stop()
        events.append(sse_event({"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(sse_event({"type": "message_stop"}))
        return b"".join(events)
