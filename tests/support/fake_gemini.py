"""A fake Gemini API: a real HTTP server (Starlette on uvicorn) that tests script.

    fake = FakeGemini()
    with ServerThread(fake.app()) as server:           # base URL: server.url + "/v1beta"
        fake.script(GeminiReply(status=503), GeminiReply(text="ok"))   # the next two requests
        ...
        fake.requests[-1].body                          # what the gateway sent

It answers `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` (one
event per text piece, each with the usage so far; the finish reason and whole usage in the last)
and `:batchEmbedContents`. Errors are in Google's shape.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


@dataclass
class GeminiReply:
    """How the fake answers one request."""

    status: int = 200
    text: str = "Hello from Gemini"
    pieces: list[str] | None = None  # stream events' text; default: the text split at spaces
    thoughts: str = ""  # a thought summary part (thought: true) before the text
    calls: list[dict[str, Any]] | None = None  # [{"name", "args", "signature"?}]
    # (prompt, candidates, thoughts, cached) token counts; None: no usageMetadata at all.
    usage: tuple[int, int, int, int] | None = (10, 5, 0, 0)
    finish: str = "STOP"
    error_after: int | None = None  # stream: an error event after this many text events
    message: str = "upstream said no"
    vectors: list[list[float]] | None = None  # embeddings, one per request (default: a fixed one each)


@dataclass
class Logged:
    """One request the fake received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def _pieces(reply: GeminiReply) -> list[str]:
    if reply.pieces is not None:
        return reply.pieces
    words = reply.text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]] if reply.text else []


def usage_metadata(reply: GeminiReply, candidates: int | None = None) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    prompt, output, thoughts, cached = reply.usage
    output = output if candidates is None else candidates
    out = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output + thoughts,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if cached:
        out["cachedContentTokenCount"] = cached
    return out


def _call_parts(reply: GeminiReply) -> list[dict[str, Any]]:
    parts = []
    for call in reply.calls or ():
        part: dict[str, Any] = {"functionCall": {"name": call["name"], "args": call.get("args", {})}}
        if call.get("signature"):
            part["thoughtSignature"] = call["signature"]
        parts.append(part)
    return parts


def _response(
    reply: GeminiReply, model: str, parts: list[dict[str, Any]], finish: str | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    payload: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "resp-fake-1"}
    return payload


class FakeGemini:
    """The scriptable state of one fake Gemini API (shared between the test and the server thread)."""

    def __init__(self) -> None:
        self.default = GeminiReply()
        self.queue: list[GeminiReply] = []
        self.requests: list[Logged] = []
        self.lock = threading.Lock()
        self.url = ""

    def reset(self) -> None:
        with self.lock:
            self.default = GeminiReply()
            self.queue = []
            self.requests = []

    def script(self, *replies: GeminiReply) -> None:
        with self.lock:
            self.queue.extend(replies)

    def _next(self) -> GeminiReply:
        with self.lock:
            return self.queue.pop(0) if self.queue else self.default

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1beta/models/{target:path}", self._serve, methods=["POST"])])

    async def _serve(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        self.requests.append(
            Logged(request.url.path, dict(request.query_params), dict(request.headers), body)
        )
        model, _, method = request.path_params["target"].rpartition(":")
        reply = self._next()
        if reply.status >= 400:
            error = {
                "code": reply.status,
                "message": reply.message,
                "status": STATUS_NAMES.get(reply.status, "INTERNAL"),
            }
            return JSONResponse({"error": error}, reply.status)
        if method == "batchEmbedContents":
            count = len(body.get("requests") or [])
            vectors = reply.vectors or [[0.25, -0.5, 1.0]] * count
            return JSONResponse({"embeddings": [{"values": v} for v in vectors]})
        if method == "streamGenerateContent":
            return StreamingResponse(self._events(reply, model), media_type="text/event-stream")
        parts: list[dict[str, Any]] = [{"text": reply.thoughts, "thought": True}] if reply.thoughts else []
        if reply.text:
            parts.append({"text": reply.text})
        parts += _call_parts(reply)
        payload = _response(reply, model, parts, reply.finish)
        usage = usage_metadata(reply)
        if usage is not None:
            payload["usageMetadata"] = usage
        return JSONResponse(payload)

    async def _events(self, reply: GeminiReply, model: str) -> AsyncIterator[bytes]:
        events: list[tuple[list[dict[str, Any]], str | None]] = []
        if reply.thoughts:
            events.append(([{"text": reply.thoughts, "thought": True}], None))
        events += [([{"text": piece}], None) for piece in _pieces(reply)]
        if reply.calls:
            events.append((_call_parts(reply), None))
        last_parts, _ = events.pop() if events else ([], None)
        events.append((last_parts, reply.finish))
        for n, (parts, finish) in enumerate(events):
            if reply.error_after is not None and n == reply.error_after:
                error = {"code": 500, "message": reply.message, "status": "INTERNAL"}
                yield b"data: " + json.dumps({"error": error}).encode() + b"\r\n\r\n"
                return
            payload = _response(reply, model, parts, finish)
            usage = usage_metadata(reply, None if finish else 0)
            if usage is not None:
                payload["usageMetadata"] = usage
            yield b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"
