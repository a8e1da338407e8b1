"""Relaying a chat completion stream (SSE) from the upstream to the client, and metering it.

The upstream is always asked for `stream_options.include_usage`; its usage-only chunk is passed
on only if the client asked for it. Every other event passes through byte for byte (tool-call
deltas included). While the upstream is silent, `: keep-alive` comments go out every
`keepalive_interval_s` (comments are the only keep-alive OpenAI SDKs tolerate). A successful
stream ends with `data: [DONE]`; an upstream failure after the headers were sent ends with
`data: {"error": {...}}` and no `[DONE]`, so it does not look like a clean end.

Billing happens exactly once, in `finally`, whatever ended the stream: the upstream's usage if
it arrived, otherwise completion tokens estimated from the text actually delivered
(dataplane/tokens.py). A stream that failed before delivering anything is not charged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import orjson
from starlette.types import Receive, Scope, Send

from dataplane.billing import Outcome, Reservation
from dataplane.errors import error_body
from dataplane.failover import Attempt, is_timeout
from dataplane.gateway import Gateway
from dataplane.tokens import estimate_prompt_tokens, estimate_tokens
from dataplane.upstreams.base import openai_usage
from shared.money import TokenUsage

log = logging.getLogger("tollgate.dataplane.streaming")

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class StreamState:
    """What has happened on one stream so far."""

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self.delivered_tokens = 0
        self.finished = False
        self.done = False
        self.error: tuple[str, str] | None = None  # (code, message)
        self.client_gone = False
        self.ended = False  # the last body message is being sent
        self.first_at: float | None = None
        self.last_write = time.monotonic()


def delivered_tokens(choices: list[Any]) -> tuple[int, bool]:
    """Estimated tokens in the deltas of one chunk, and whether a choice finished."""
    tokens = 0
    finished = False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        finished = finished or bool(choice.get("finish_reason"))
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            continue
        for name in ("content", "reasoning_content", "refusal"):
            piece = delta.get(name)
            if isinstance(piece, str) and piece:
                tokens += estimate_tokens(piece)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                text = (function.get("name") or "") + (function.get("arguments") or "")
                tokens += estimate_tokens(text) if text else 0
    return tokens, finished


def parse_event(data: bytes) -> dict[str, Any] | None:
    """One upstream stream event's JSON object; None when it is not one (logged when not JSON)."""
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        log.warning("dropping a stream event that is not JSON: %r", data[:200])
        return None
    return chunk if isinstance(chunk, dict) else None


def event_error(chunk: dict[str, Any]) -> tuple[str, str] | None:
    """The (code, message) of an error an upstream sent as a stream event, or None."""
    if not chunk.get("error"):
        return None
    error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
    return (
        str(error.get("code") or "upstream_error"),
        str(error.get("message") or "The upstream provider failed mid-stream."),
    )


class SSERelay:
    """An ASGI response that relays one upstream stream.

    Subclasses speak other stream dialects (dataplane/anthropic_streams.py) by overriding how
    events are turned into client bytes (`_events`, `_chunk`), the keep-alive, how a stream ends
    (`_end_bytes`, `_failure_bytes`) and what is billed when usage is missing (`_counted_usage`).
    """

    keepalive = KEEPALIVE

    def __init__(
        self,
        gateway: Gateway,
        attempt: Attempt,
        reservation: Reservation,
        body: dict[str, Any],
        include_usage: bool,
        headers: dict[str, str],
    ) -> None:
        self.gateway = gateway
        self.attempt = attempt
        self.reservation = reservation
        self.body = body
        self.include_usage = include_usage
        self.headers = SSE_HEADERS + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.state = StreamState()
        self.decoder = attempt.adapter.stream_decoder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        main = asyncio.current_task()
        assert main is not None
        tasks: list[asyncio.Task] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            tasks = [
                asyncio.create_task(self._watch_disconnect(receive, main)),
                asyncio.create_task(self._keepalive(send)),
            ]
            await self._pump(send)
        except asyncio.CancelledError:
            if not state.client_gone:
                raise
            main.uncancel()
        finally:
            for task in tasks:
                task.cancel()
            self._settle()
            await self.attempt.response.aclose()

    async def _watch_disconnect(self, receive: Receive, main: asyncio.Task) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        # The server also reports a disconnect once the response is complete: not the client leaving.
        if not self.state.ended:
            self.state.client_gone = True
            main.cancel()

    async def _keepalive(self, send: Send) -> None:
        interval = self.gateway.settings.keepalive_interval_s
        state = self.state
        while True:
            await asyncio.sleep(max(interval - (time.monotonic() - state.last_write), 0.001))
            if state.ended:
                return
            if time.monotonic() - state.last_write >= interval:
                state.last_write = time.monotonic()
                await send({"type": "http.response.body", "body": self.keepalive, "more_body": True})

    async def _write(self, send: Send, data: bytes, more: bool = True) -> None:
        self.state.last_write = time.monotonic()
        self.state.ended = not more
        await send({"type": "http.response.body", "body": data, "more_body": more})

    async def _pump(self, send: Send) -> None:
        state = self.state
        buffer = b""
        try:
            async for chunk in self.attempt.response.aiter_bytes():
                buffer += chunk
                if b"\r" in buffer:
                    buffer = buffer.replace(b"\r\n", b"\n")
                out, buffer = self._events(buffer)
                if out:
                    await self._write(send, out)
                if state.done or state.error:
                    break
        except httpx.HTTPError as exc:
            timeout = is_timeout(exc)
            state.error = (
                "upstream_timeout" if timeout else "upstream_error",
                "The upstream provider timed out mid-stream."
                if timeout
                else "The upstream provider's connection was lost mid-stream.",
            )
        if state.error is None and not (state.done or state.finished):
            state.error = ("upstream_error", "The upstream provider ended the stream early.")
        if state.error is not None:
            self.gateway.health.failed(self.attempt.route.provider.id)
            await self._write(send, self._failure_bytes(*state.error), more=False)
            return
        await self._write(send, self._end_bytes(), more=False)

    def _failure_bytes(self, code: str, message: str) -> bytes:
        """The last event of a stream that failed after the headers were sent."""
        return b"data: " + error_body(message, "server_error", code) + b"\n\n"

    def _end_bytes(self) -> bytes:
        """The last event of a stream that ended well."""
        return DONE

    def _events(self, buffer: bytes) -> tuple[bytes, bytes]:
        """Handle every complete event in `buffer`; returns (bytes to send, the incomplete rest)."""
        out = []
        while not (self.state.done or self.state.error):
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            event, buffer = buffer[:end], buffer[end + 2 :]
            data = b"\n".join(
                line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
            )
            if data:
                out.extend(self._decode(data))
        return b"".join(out), buffer

    def _decode(self, data: bytes) -> list[bytes]:
        try:
            payloads, ended = self.decoder.decode(data)
        except orjson.JSONDecodeError:
            log.warning("dropping a stream event that is not JSON: %r", data[:200])
            return []
        self.state.done = ended
        return [self._chunk(payload) for payload in payloads]

    def _chunk(self, data: bytes) -> bytes:
        state = self.state
        chunk = parse_event(data)
        if chunk is None:
            return b""
        error = event_error(chunk)
        if error is not None:
            state.error = error
            return b""
        usage = openai_usage(chunk)
        if usage is not None:
            state.usage = usage
        choices = chunk.get("choices")
        if not choices:
            return b"data: " + data + b"\n\n" if self.include_usage or usage is None else b""
        if state.first_at is None:
            state.first_at = time.monotonic()
        tokens, finished = delivered_tokens(choices)
        state.delivered_tokens += tokens
        state.finished = state.finished or finished
        return b"data: " + data + b"\n\n"

    def _counted_usage(self) -> TokenUsage:
        """What to bill when the upstream's usage is missing or did not cover the whole stream."""
        return TokenUsage(estimate_prompt_tokens(self.body), self.state.delivered_tokens)

    def _settle(self) -> None:
        state = self.state
        r = self.reservation
        ttft = int((state.first_at - r.started) * 1000) if state.first_at is not None else None
        ok = state.error is None and not state.client_gone
        if state.usage is not None and (ok or state.done or state.finished):
            usage, source = state.usage, "upstream"
        elif state.delivered_tokens:
            usage = self._counted_usage()
            source = "counted"
        else:
            usage, source = TokenUsage(), "none"
        status = "ok" if ok else ("partial" if usage.completion_tokens else "error")
        http_status = 499 if state.client_gone else 200
        error = state.error[1] if state.error else ("client disconnected" if state.client_gone else "")
        outcome = Outcome(usage, status, http_status, self.attempt.route, source, ttft, error)
        self.gateway.billing.finish(r, outcome)
