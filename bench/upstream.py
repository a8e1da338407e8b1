"""A fast fake OpenAI-compatible upstream for the benchmark.

A raw asyncio protocol on uvloop with httptools as the HTTP/1.1 parser: no framework, no routing
table, so one core serves tens of thousands of requests per second and the gateway is always the
bottleneck. It answers:

- `POST .../chat/completions`: a `chat.completion` JSON with usage, or with `"stream": true` an SSE
  stream (role chunk, three content chunks, finish chunk, a usage chunk when
  `stream_options.include_usage` is set, `[DONE]`) sent chunked in one write;
- `GET /stats`: how many completions were served per bearer token, so the benchmark can tell
  the gateway's calls (made with the provider key) from its own direct calls.

With `--ttft-ms`, it plays a realistic model instead: the first token after that long, then
`--tokens-per-s` tokens a second, `--tokens-per-chunk` per SSE event, `--reply-tokens` in all
(a JSON answer comes whole once the last token would have been written).

Run as `python -m bench.upstream --fd N [--ttft-ms 300 ...]` on a listening socket inherited from
the parent.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass

import httptools
import orjson
import uvloop

PROMPT_TOKENS = 12
COMPLETION_TOKENS = 9
PIECES = ("Hello", " from the", " fake upstream.")
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}


@dataclass(frozen=True)
class Pace:
    """How a realistic model answers: time to first token, then a steady rate."""

    ttft_s: float
    tokens_per_s: float
    reply_tokens: int
    tokens_per_chunk: int

    @property
    def pieces(self) -> tuple[str, ...]:
        """The reply's content, one piece per SSE event."""
        full, rest = divmod(self.reply_tokens, self.tokens_per_chunk)
        return (" tok" * self.tokens_per_chunk,) * full + ((" tok" * rest,) if rest else ())

    @property
    def interval_s(self) -> float:
        """The time between two events."""
        return self.tokens_per_chunk / self.tokens_per_s

    def usage(self) -> dict:
        """The usage block of a reply of `reply_tokens`."""
        return {
            **USAGE,
            "completion_tokens": self.reply_tokens,
            "total_tokens": PROMPT_TOKENS + self.reply_tokens,
        }


def completion(model: str, created: int, pieces: tuple[str, ...] = PIECES, usage: dict = USAGE) -> dict:
    """A non-streaming chat.completion body."""
    message = {"role": "assistant", "content": "".join(pieces), "refusal": None, "annotations": []}
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": usage,
        "system_fingerprint": None,
        "service_tier": "default",
    }


def stream_events(
    model: str, created: int, include_usage: bool, pieces: tuple[str, ...] = PIECES, usage: dict = USAGE
) -> list[bytes]:
    """The SSE events of one streamed completion, each a complete `data: ...\\n\\n` block."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": model}
    deltas = [{"role": "assistant", "content": "", "refusal": None}] + [{"content": p} for p in pieces]
    chunks = [
        {**head, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]}
        for d in deltas
    ]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    if include_usage:
        chunks.append({**head, "choices": [], "usage": usage})
    return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def http_response(status: str, content_type: bytes, body: bytes, keep_alive: bool) -> bytes:
    """A complete HTTP/1.1 response with Content-Length."""
    connection = b"keep-alive" if keep_alive else b"close"
    return b"".join(
        (
            f"HTTP/1.1 {status}\r\n".encode(),
            b"content-type: " + content_type + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: " + connection + b"\r\n\r\n",
            body,
        )
    )


def stream_head(keep_alive: bool) -> bytes:
    """The status line and headers of an SSE response sent with chunked transfer-encoding."""
    connection = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\nconnection: " + connection + b"\r\n\r\n"
    )


def chunk(event: bytes) -> bytes:
    """One event as one transfer-encoding chunk."""
    return b"%x\r\n%s\r\n" % (len(event), event)


LAST_CHUNK = b"0\r\n\r\n"


def chunked_response(events: list[bytes], keep_alive: bool) -> bytes:
    """An HTTP/1.1 200 SSE response, one transfer-encoding chunk per event, in one write."""
    return b"".join([stream_head(keep_alive), *(chunk(e) for e in events), LAST_CHUNK])


def error_body(message: str) -> bytes:
    """OpenAI's error shape."""
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None}})


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection; httptools calls the `on_*` methods as it parses."""

    def __init__(self, served: Counter, pace: Pace | None = None) -> None:
        self.served = served
        self.pace = pace
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.auth = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send(http_response("400 Bad Request", b"application/json", error_body("bad HTTP"), False))

    def on_message_begin(self) -> None:
        self.url, self.auth, self.body = b"", b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.auth = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        keep_alive = self.parser.should_keep_alive()
        method = self.parser.get_method()
        if method == b"POST" and self.url.endswith(b"/chat/completions") and self.pace is not None:
            self.paced_chat(keep_alive)
            return
        if method == b"POST" and self.url.endswith(b"/chat/completions"):
            self.send(self.chat(keep_alive))
        elif method == b"GET" and self.url == b"/stats":
            stats = {"served": {k.decode(errors="replace"): v for k, v in self.served.items()}}
            self.send(http_response("200 OK", b"application/json", orjson.dumps(stats), keep_alive))
        else:
            self.send(
                http_response("404 Not Found", b"application/json", error_body("no such path"), keep_alive)
            )
        if not keep_alive:
            self.transport.close()

    def chat(self, keep_alive: bool) -> bytes:
        """The response to one chat completion request."""
        try:
            request = orjson.loads(b"".join(self.body))
            model = str(request["model"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return http_response("400 Bad Request", b"application/json", error_body("bad body"), keep_alive)
        self.served[self.auth.removeprefix(b"Bearer ")] += 1
        created = int(time.time())
        if request.get("stream") is True:
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            return chunked_response(stream_events(model, created, include_usage), keep_alive)
        body = orjson.dumps(completion(model, created))
        return http_response("200 OK", b"application/json", body, keep_alive)

    def paced_chat(self, keep_alive: bool) -> None:
        """Answer as a realistic model would: the head now, the first token later, then a steady pace."""
        try:
            request = orjson.loads(b"".join(self.body))
            model = str(request["model"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.send(http_response("400 Bad Request", b"application/json", error_body("bad"), keep_alive))
            return
        self.served[self.auth.removeprefix(b"Bearer ")] += 1
        pace, created, loop = self.pace, int(time.time()), asyncio.get_running_loop()
        assert pace is not None
        if request.get("stream") is not True:
            body = orjson.dumps(completion(model, created, pace.pieces, pace.usage()))
            answer = http_response("200 OK", b"application/json", body, keep_alive)
            loop.call_later(pace.ttft_s + len(pace.pieces) * pace.interval_s, self.send, answer)
            return
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        events = stream_events(model, created, include_usage, pace.pieces, pace.usage())
        self.send(stream_head(keep_alive))
        # The role event and the first piece come together at the first token; the finish, usage
        # and [DONE] events come with the last piece.
        n = len(pace.pieces)
        writes = [events[:2], *([e] for e in events[2 : 1 + n])]
        writes[-1] = writes[-1] + events[1 + n :]
        start = loop.time() + pace.ttft_s
        for i, group in enumerate(writes):
            data = b"".join(chunk(e) for e in group) + (LAST_CHUNK if i == len(writes) - 1 else b"")
            loop.call_at(start + i * pace.interval_s, self.send, data)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def serve(sock: socket.socket, pace: Pace | None) -> None:
    """Serve on `sock` until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    served: Counter = Counter()
    server = await loop.create_server(lambda: UpstreamProtocol(served, pace), sock=sock, backlog=4096)
    async with server:
        await stop.wait()


def main() -> None:
    """Entry point of the upstream subprocess."""
    parser = argparse.ArgumentParser(description="fake OpenAI-compatible upstream for bench/")
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening socket")
    parser.add_argument(
        "--ttft-ms", type=float, default=0.0, help="play a realistic model: first token after"
    )
    parser.add_argument("--tokens-per-s", type=float, default=50.0)
    parser.add_argument("--reply-tokens", type=int, default=500)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    args = parser.parse_args()
    pace = (
        Pace(args.ttft_ms / 1000, args.tokens_per_s, args.reply_tokens, args.tokens_per_chunk)
        if args.ttft_ms > 0
        else None
    )
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(False)
    uvloop.run(serve(sock, pace))


if __name__ == "__main__":
    main()
