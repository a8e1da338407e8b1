"""Relaying one upstream stream (SSE) to the client, metering it, and settling it exactly once.

The relay owns the transport side, the same for every API: the response start, keep-alives
while the upstream is silent, noticing a client that left, reading the upstream in events, and
settlement in `finally` whatever ended the stream. What each event becomes for the client is
the stream's *dialect* (dataplane/endpoints/base.py `StreamDialect`): a native dialect passes
the upstream's events through and meters a parsed copy; `ChatStream` decodes the provider's
events into chat chunks (dataplane/upstreams/) and encodes them for the client's API.

Billing: the upstream's usage if it arrived (and covered the whole stream), otherwise the prompt
estimate plus the output tokens estimated from what was actually delivered; a stream that failed
before delivering anything is not charged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from starlette.types import Receive, Scope, Send

from dataplane.billing import Outcome, Reservation
from dataplane.endpoints.base import ChunkEncoder, StreamDialect
from dataplane.failover import Attempt, is_timeout
from dataplane.gateway import Gateway
from dataplane.public_model import PublicModel
from dataplane.tokens import estimate_tokens
from dataplane.upstreams.base import StreamDecoder, openai_usage
from shared.money import TokenUsage

log = logging.getLogger("tollgate.dataplane.streaming")

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"
# How stale a stream's journaled checkpoint may be (tokens delivered since, or seconds).
CHECKPOINT_TOKENS = 256
CHECKPOINT_S = 2.0
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Meter:
    """What has happened on one stream so far.

    `cap` is the output the request paid for (the output cap times `n`); an upstream that sends
    more is cut there (`capped`), since nothing pays for the rest. Upstreams send about one token
    per delta, so more deltas than the cap is over-delivery for sure; the text estimate (which
    runs high on short deltas: about two per English word) only cuts at twice the cap, so an
    upstream that keeps to the limit is not cut short by the estimate's error, while one sending
    a few large deltas is still stopped.
    """

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self.delivered_tokens = 0
        self.pieces = 0  # deltas that carried output
        self.cap: int | None = None
        self.capped = False
        self.finished = False  # the model said it finished (a finish reason, a stop event)
        self.finish_reason: str | None = None
        self.done = False  # the upstream's end-of-stream marker arrived
        self.error: tuple[str, str] | None = None  # (code, message)
        self.first_at: float | None = None

    def take(self, tokens: int) -> bool:
        """Count a delta of `tokens` that goes out, if it fits the paid cap; if not, end with "length"."""
        cap = self.cap
        over = cap is not None and (self.pieces >= cap or self.delivered_tokens + tokens > 2 * cap + 16)
        if over and tokens > 0:
            self.capped = self.finished = True
            self.finish_reason = "length"
            return False
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.delivered_tokens += tokens
        self.pieces += tokens > 0
        return True

    @property
    def over(self) -> bool:
        """Nothing more will be relayed: the upstream ended, failed, or reached the paid cap."""
        return self.done or self.capped or self.error is not None


def delivered_tokens(choices: list[Any]) -> tuple[int, str | None]:
    """Estimated tokens in the deltas (or legacy `text`) of one chunk, and a finish reason if any."""
    tokens = 0
    finish = None
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        finish = choice.get("finish_reason") or finish
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            text = choice.get("text")
            tokens += estimate_tokens(text) if isinstance(text, str) else 0
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
    return tokens, finish


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


def event_data(event: bytes) -> bytes:
    """The joined `data:` lines of one SSE event."""
    if b"\n" not in event:  # nearly every event: one `data:` line, read without a generator
        return event[5:].lstrip(b" ") if event.startswith(b"data:") else b""
    return b"\n".join(line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))


class ChatStream:
    """A stream read as chat chunks (from the provider's decoder) and written in the client's dialect."""

    def __init__(self, decoder: StreamDecoder, encoder: ChunkEncoder, counted_prompt: int) -> None:
        self.decoder = decoder
        self.encoder = encoder
        self.keepalive = encoder.keepalive
        self.meter = Meter()
        self.prompt = counted_prompt

    def opening(self) -> bytes:
        return self.encoder.opening()

    def event(self, data: bytes, whole: bytes) -> bytes:
        try:
            payloads, ended = self.decoder.decode(data)
        except orjson.JSONDecodeError:
            log.warning("dropping a stream event that is not JSON: %r", data[:200])
            return b""
        self.meter.done = ended
        if len(payloads) == 1:  # the usual event: one chunk, written without a generator
            return self._chunk(payloads[0])
        return b"".join(self._chunk(payload) for payload in payloads)

    def _chunk(self, data: bytes) -> bytes:
        meter = self.meter
        chunk = parse_event(data)
        if chunk is None:
            return b""
        error = event_error(chunk)
        if error is not None:
            meter.error = error
            return b""
        usage = openai_usage(chunk)
        if usage is not None:
            meter.usage = usage
        choices = chunk.get("choices")
        if choices:
            tokens, finish = delivered_tokens(choices)
            if not meter.take(tokens):
                return b""
            if finish:
                meter.finished, meter.finish_reason = True, finish
        return self.encoder.chunk(data, chunk)

    def closing(self) -> bytes:
        return self.encoder.closing(self.meter.usage or self.counted_usage(), self.meter.finish_reason)

    def failure(self, code: str, message: str) -> bytes:
        return self.encoder.failure(code, message)

    def counted_usage(self) -> TokenUsage:
        return TokenUsage(self.prompt, self.meter.delivered_tokens)


class ClientWatch:
    """What both relays (this one and byte_relay.py) share: noticing a client that left early.

    `ended` is set once the last body message is being sent; `client_gone` when the client
    disconnected before that, and the relay's task is then cancelled.
    """

    ended = False
    client_gone = False

    async def _watch_disconnect(self, receive: Receive, main: asyncio.Task) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        # The server also reports a disconnect once the response is complete: not the client leaving.
        if not self.ended:
            self.client_gone = True
            main.cancel()


class StreamRelay(ClientWatch):
    """An ASGI response that relays one upstream stream through a dialect and settles it once.

    The settlement is made (journaled, then queued for the database) before the stream's last
    bytes go out, so a client that got the whole stream is billed even if this process dies the
    moment after; while relaying, a checkpoint of what was delivered is journaled every
    `CHECKPOINT_TOKENS` tokens or `CHECKPOINT_S` seconds (dataplane/journal.py).
    """

    def __init__(
        self,
        gateway: Gateway,
        attempt: Attempt,
        reservation: Reservation,
        dialect: StreamDialect,
        headers: dict[str, str],
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.gateway = gateway
        self.attempt = attempt
        self.reservation = reservation
        self.dialect = dialect
        self.headers = SSE_HEADERS + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.after = after
        self.client_gone = False
        self.ended = False  # the last body message is being sent
        self.settled: bool | None = None  # once settled: whether the stream ended well
        self.last_write = time.monotonic()
        self.checkpoint_at = self.last_write
        self.checkpoint_tokens = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            if not self.client_gone:
                raise
            main.uncancel()
        finally:
            for task in tasks:
                task.cancel()
            ok = self._settle() if self.settled is None else self.settled
            await self.attempt.response.aclose()
        if ok and self.after is not None:
            await self.after()

    async def _keepalive(self, send: Send) -> None:
        interval = self.gateway.settings.keepalive_interval_s
        meter = self.dialect.meter
        while True:
            # Woken at least every CHECKPOINT_S, and when a checkpoint falls due, so a stream gone
            # quiet still gets its checkpoint in time.
            now = time.monotonic()
            wait = min(CHECKPOINT_S, interval - (now - self.last_write))
            if meter.delivered_tokens != self.checkpoint_tokens:
                wait = min(wait, self.checkpoint_at + CHECKPOINT_S - now)
            await asyncio.sleep(max(wait, 0.001))
            if self.ended:
                return
            self._checkpoint(meter, time.monotonic())
            if time.monotonic() - self.last_write >= interval:
                self.last_write = time.monotonic()
                await send({"type": "http.response.body", "body": self.dialect.keepalive, "more_body": True})

    async def _write(self, send: Send, data: bytes, more: bool = True) -> None:
        self.last_write = time.monotonic()
        self.ended = not more
        await send({"type": "http.response.body", "body": data, "more_body": more})

    async def _pump(self, send: Send) -> None:
        meter = self.dialect.meter
        opening = self.dialect.opening()
        if opening:
            await self._write(send, opening)
        try:
            await self._read(send, meter)
        except httpx.HTTPError as exc:
            timeout = is_timeout(exc)
            meter.error = (
                "upstream_timeout" if timeout else "upstream_error",
                "The upstream provider timed out mid-stream."
                if timeout
                else "The upstream provider's connection was lost mid-stream.",
            )
        if meter.error is None and not (meter.done or meter.finished):
            meter.error = ("upstream_error", "The upstream provider ended the stream early.")
        if meter.error is not None:
            self.gateway.health.failed(self.attempt.route, "stream")
            self._settle()
            await self._write(send, self.dialect.failure(*meter.error), more=False)
            return
        self._settle()
        await self._write(send, self.dialect.closing(), more=False)

    async def _read(self, send: Send, meter: Meter) -> None:
        buffer = b""
        reported = False
        async for chunk in self.attempt.response.aiter_bytes():
            buffer += chunk
            if b"\r" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            out, buffer = self._events(buffer, meter)
            if out:
                await self._write(send, out)
                self._checkpoint(meter, self.last_write)
            if not reported and meter.first_at is not None:
                reported = True
                self.gateway.health.first_token(self.attempt.route, meter.first_at - self.reservation.started)
            if meter.over:
                break

    def _events(self, buffer: bytes, meter: Meter) -> tuple[bytes, bytes]:
        """Handle every complete event in `buffer`; returns (bytes to send, the incomplete rest)."""
        out = []
        while not meter.over:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            whole, buffer = buffer[: end + 2], buffer[end + 2 :]
            data = event_data(whole[:-2])
            piece = self.dialect.event(data, whole)
            if piece:
                out.append(piece)
        return b"".join(out), buffer

    def _checkpoint(self, meter: Meter, now: float) -> None:
        """Journal what was delivered so far, every so many tokens or seconds."""
        tokens = meter.delivered_tokens
        if tokens == self.checkpoint_tokens or self.settled is not None:
            return
        if tokens - self.checkpoint_tokens < CHECKPOINT_TOKENS and now - self.checkpoint_at < CHECKPOINT_S:
            return
        self.checkpoint_tokens, self.checkpoint_at = tokens, now
        self.gateway.billing.checkpoint(self.reservation, self.dialect.counted_usage(), self.attempt.route)

    def _settle(self) -> bool:
        """Bill the stream (once); whether it ended well."""
        meter = self.dialect.meter
        r = self.reservation
        ttft = int((meter.first_at - r.started) * 1000) if meter.first_at is not None else None
        ok = meter.error is None and not self.client_gone
        if meter.usage is not None and (ok or meter.done or meter.finished) and not meter.capped:
            usage, source = meter.usage, "upstream"
        elif meter.delivered_tokens:
            usage, source = self.dialect.counted_usage(), "counted"
        else:
            usage, source = TokenUsage(), "none"
        status = "ok" if ok else ("partial" if usage.completion_tokens else "error")
        http_status = 499 if self.client_gone else 200
        error = meter.error[1] if meter.error else ("client disconnected" if self.client_gone else "")
        if meter.capped and not error:
            error = "the upstream sent more than the paid output cap; the stream was ended there"
        outcome = Outcome(usage, status, http_status, self.attempt.route, source, ttft, error)
        self.gateway.billing.finish(r, outcome)
        self.settled = ok
        return ok


class ChatEncoder:
    """Chat chunks to an OpenAI chat client: byte for byte; the usage chunk only if it was asked for.

    Also used for native legacy completions (`text_completion` chunks). When the relay cut an
    over-delivering stream at the paid cap, the closing adds the finish chunk the upstream never
    sent (`finish_reason: "length"`, one per choice) and the usage chunk if it was asked for.
    Each chunk's `model` is rewritten to `model`, the public id, from the copy parsed for metering.
    """

    keepalive = KEEPALIVE

    def __init__(self, include_usage: bool, n: int = 1, model: str = "") -> None:
        self.include_usage = include_usage
        self.n = n
        self.public = PublicModel(model)
        self.head: dict[str, Any] = {}  # id, object, created, model of the chunks seen
        self.finish_seen = False

    def opening(self) -> bytes:
        return b""

    def chunk(self, data: bytes, chunk: dict[str, Any]) -> bytes:
        choices = chunk.get("choices")
        if not choices and not self.include_usage and chunk.get("usage") is not None:
            return b""
        if not self.head:
            self.head = {k: chunk[k] for k in ("id", "object", "created", "model") if k in chunk}
            self.head["model"] = self.public.name
        if choices and not self.finish_seen:
            for choice in choices:  # a plain loop: this runs for every chunk until the finish
                if isinstance(choice, dict) and choice.get("finish_reason"):
                    self.finish_seen = True
                    break
        if self.public.differs(chunk):
            data = self.public.bytes(data, chunk["model"])
        return b"data: " + data + b"\n\n"

    def closing(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        if finish_reason != "length" or self.finish_seen:
            return DONE
        legacy = self.head.get("object") == "text_completion"
        choices = [
            {"text": "", "index": i, "logprobs": None, "finish_reason": "length"}
            if legacy
            else {"index": i, "delta": {}, "finish_reason": "length"}
            for i in range(self.n)
        ]
        out = b"data: " + orjson.dumps({**self.head, "choices": choices}) + b"\n\n"
        if self.include_usage:
            out += (
                b"data: " + orjson.dumps({**self.head, "choices": [], "usage": usage_fields(usage)}) + b"\n\n"
            )
        return out + DONE

    def failure(self, code: str, message: str) -> bytes:
        return (
            b"data: "
            + orjson.dumps(
                {"error": {"message": message, "type": "server_error", "param": None, "code": code}}
            )
            + b"\n\n"
        )


def usage_fields(usage: TokenUsage) -> dict[str, int]:
    """OpenAI's `usage` object for a usage the gateway counted."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
