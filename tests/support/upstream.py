"""A fake OpenAI-compatible provider: a real HTTP server (Starlette on uvicorn) that tests script.

    fake = FakeUpstream()
    with ServerThread(fake.app()) as server:            # base URL: server.url + "/v1"
        fake.script(Reply(status=500), Reply(text="ok"))  # the next two requests, in order
        fake.default = Reply(usage=(7, 3))               # every request after those
        ...
        fake.requests[-1].body                           # what the gateway forwarded

It also answers Anthropic's `POST /v1/messages` (plain and streamed) from the same script; in
Anthropic streams, `stall_after`, `drop_after` and `error_after` count events (message_start is 0).

A `Reply` says how to answer one request: status and error body, latency before the headers,
the text or tool calls, the usage reported (None: none at all), and for streams where to stall
(silence), drop (cut the connection mid-stream) or end early (a clean end, but too soon).
Embeddings are always answered with float vectors, whatever `encoding_format` asks for, like
many real upstreams.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support import native_apis


class DroppedStream(Exception):
    """Raised inside a streaming body to make the server cut the connection."""


@dataclass
class Reply:
    """How the fake answers one request."""

    status: int = 200
    text: str = "Hello from upstream"
    pieces: list[str] | None = None  # stream deltas; default: the text split at spaces
    tool_calls: list[dict[str, Any]] | None = None  # [{"id", "name", "arguments"}]
    usage: tuple[int, int] | None = (10, 5)  # (prompt, completion) or None: report no usage
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # Anthropic's cache_creation_input_tokens (part of the prompt)
    preamble: str | None = None  # text streamed before the tool calls (OpenAI streams)
    latency_s: float = 0.0  # before the response headers
    stall_before_s: float = 0.0  # after the headers, before the first chunk
    stall_after: int | None = None  # stall after this many content chunks ...
    stall_s: float = 0.0  # ... for this long (or until the fake is reset)
    drop_after: int | None = None  # cut the connection after this many content chunks
    error_after: int | None = None  # send an SSE error event after this many content chunks
    end_after: int | None = None  # (OpenAI streams) end cleanly, no finish or [DONE], after this many
    error: dict[str, Any] | None = None  # error body for status >= 400
    retry_after: str | None = None
    vector: list[float] = field(default_factory=lambda: [0.5, -1.25, 2.0, 0.1])


@dataclass
class Logged:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: Any


def _pieces(reply: Reply) -> list[str]:
    if reply.pieces is not None:
        return reply.pieces
    words = reply.text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]] if reply.text else []


class FakeUpstream:
    """The scriptable state of one fake provider (shared between the test and the server thread)."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.default = Reply()
        self.queue: list[Reply] = []
        self.by_model: dict[str, Reply] = {}  # upstream model → how to answer it, before the script
        self.requests: list[Logged] = []
        self.released = threading.Event()
        self.lock = threading.Lock()

    def reset(self) -> None:
        """Forget the script and the log; end any stall in progress."""
        self.released.set()
        with self.lock:
            self.default = Reply()
            self.queue = []
            self.by_model = {}
            self.requests = []
        self.released = threading.Event()

    def release(self) -> None:
        """End the latencies and stalls in progress now (later ones run as scripted)."""
        released, self.released = self.released, threading.Event()
        released.set()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order (then `default`)."""
        with self.lock:
            self.queue.extend(replies)

    def _next(self) -> Reply:
        with self.lock:
            return self.queue.pop(0) if self.queue else self.default

    def app(self) -> Starlette:
        """The ASGI app to serve."""
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/completions", self._completions, methods=["POST"]),
            ]
        )

    async def _pause(self, seconds: float) -> None:
        released = self.released
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not released.is_set():
            await asyncio.sleep(0.01)

    async def _receive(self, request: Request) -> tuple[Reply, dict[str, Any]]:
        body = json.loads(await request.body())
        with self.lock:
            self.requests.append(Logged(request.url.path, dict(request.headers), body))
        reply = self.by_model.get(str(body.get("model"))) or self._next()
        await self._pause(reply.latency_s)
        return reply, body

    def _error(self, reply: Reply) -> Response:
        body = reply.error or {
            "error": {"message": f"fake upstream says {reply.status}", "type": "server_error"}
        }
        headers = {"retry-after": reply.retry_after} if reply.retry_after else None
        return JSONResponse(body, reply.status, headers=headers)

    async def _chat(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        if reply.status >= 400:
            return self._error(reply)
        if body.get("stream"):
            return StreamingResponse(self._stream(reply, body), media_type="text/event-stream")
        return JSONResponse(_completion(reply, body))

    async def _stream(self, reply: Reply, body: dict[str, Any]) -> AsyncIterator[bytes]:
        await self._pause(reply.stall_before_s)
        chunks = _chunks(reply, body)
        for i, chunk in enumerate(chunks["content"]):
            if i == reply.stall_after:
                await self._pause(reply.stall_s)
            if i == reply.drop_after:
                raise DroppedStream("cut by the test script")
            if i == reply.error_after:
                yield _sse({"error": {"message": "the model crashed", "type": "server_error", "code": None}})
                return
            if i == reply.end_after:
                return
            yield _sse(chunk)
        for chunk in chunks["tail"]:
            yield _sse(chunk)
        yield b"data: [DONE]\n\n"

    async def _messages(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        if reply.status >= 400:
            error = reply.error or {
                "type": "error",
                "error": {"type": "api_error", "message": "fake says no"},
            }
            return JSONResponse(error, reply.status)
        if body.get("stream"):
            return StreamingResponse(self._anthropic_stream(reply, body), media_type="text/event-stream")
        return JSONResponse(_message(reply, body))

    async def _anthropic_stream(self, reply: Reply, body: dict[str, Any]) -> AsyncIterator[bytes]:
        await self._pause(reply.stall_before_s)
        for i, (event, payload) in enumerate(_anthropic_events(reply, body)):
            if i == reply.stall_after:
                await self._pause(reply.stall_s)
            if i == reply.drop_after:
                raise DroppedStream("cut by the test script")
            if i == reply.error_after:
                error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                yield f"event: error\ndata: {json.dumps(error)}\n\n".encode()
                return
            yield f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()

    async def _responses(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        if reply.status >= 400:
            return self._error(reply)
        if not body.get("stream"):
            return JSONResponse(native_apis.response_object(reply, body, native_apis.new_response_id()))
        events = native_apis.sse(native_apis.response_events(reply, body))
        return StreamingResponse(self._events(reply, events), media_type="text/event-stream")

    async def _completions(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        if reply.status >= 400:
            return self._error(reply)
        if not body.get("stream"):
            return JSONResponse(native_apis.text_completion(reply, body))
        events = [_sse(chunk) for chunk in native_apis.completion_chunks(reply, body)] + [b"data: [DONE]\n\n"]
        return StreamingResponse(self._events(reply, events), media_type="text/event-stream")

    async def _events(self, reply: Reply, events: list[bytes]) -> AsyncIterator[bytes]:
        """Prepared SSE blocks, with the reply's stall and drop (counted in blocks)."""
        await self._pause(reply.stall_before_s)
        for i, event in enumerate(events):
            if i == reply.stall_after:
                await self._pause(reply.stall_s)
            if i == reply.drop_after:
                raise DroppedStream("cut by the test script")
            yield event

    async def _embeddings(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        if reply.status >= 400:
            return self._error(reply)
        inputs = body["input"]
        items = [inputs] if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)) else inputs
        data = [
            {"object": "embedding", "index": i, "embedding": [v + i for v in reply.vector]}
            for i in range(len(items))
        ]
        payload: dict[str, Any] = {"object": "list", "data": data, "model": body["model"]}
        if reply.usage is not None:
            payload["usage"] = {"prompt_tokens": reply.usage[0], "total_tokens": reply.usage[0]}
        return JSONResponse(payload)


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _usage(reply: Reply) -> dict[str, Any] | None:
    if reply.usage is None:
        return None
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
    }


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for c in reply.tool_calls or []
    ]


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if reply.tool_calls else reply.text}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    payload: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1763770000,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
    }
    usage = _usage(reply)
    if usage is not None:
        payload["usage"] = usage
    return payload


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1763770000,
        "model": body["model"],
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _tool_deltas(reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = []
    for index, call in enumerate(reply.tool_calls or []):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        chunks.append(_chunk(body, {"tool_calls": [head]}))
        args = call["arguments"]
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            chunks.append(_chunk(body, {"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
    return chunks


def _chunks(reply: Reply, body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The content chunks (which stalls and drops count) and the tail (finish, usage)."""
    content = [_chunk(body, {"role": "assistant", "content": ""})]
    if reply.tool_calls:
        content += [_chunk(body, {"content": reply.preamble})] if reply.preamble else []
        content += _tool_deltas(reply, body)
    else:
        content += [_chunk(body, {"content": piece}) for piece in _pieces(reply)]
    tail = [_chunk(body, {}, "tool_calls" if reply.tool_calls else "stop")]
    usage = _usage(reply)
    if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
        tail.append({**_chunk(body, {}), "choices": [], "usage": usage})
    return {"content": content, "tail": tail}


def _anthropic_usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage or (0, 0)
    return {
        "input_tokens": prompt - reply.cached_tokens - reply.cache_write_tokens,
        "output_tokens": completion,
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
    }


def _message(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages reply."""
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if not reply.tool_calls else []
    for call in reply.tool_calls or []:
        content.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": call["name"],
                "input": json.loads(call["arguments"]),
            }
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(reply),
    }


def _anthropic_events(reply: Reply, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence of an Anthropic stream (content events first, so drops count them)."""
    usage = _anthropic_usage(reply)
    start = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [],
        "usage": {**usage, "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    if reply.tool_calls:
        for index, call in enumerate(reply.tool_calls):
            block = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                )
            )
            delta = {"type": "input_json_delta", "partial_json": call["arguments"]}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    else:
        block = {"type": "text", "text": ""}
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        )
        events.append(("ping", {"type": "ping"}))
        for piece in _pieces(reply):
            delta = {"type": "text_delta", "text": piece}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    stop = "tool_use" if reply.tool_calls else "end_turn"
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events
