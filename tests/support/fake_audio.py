"""A fake OpenAI audio provider: a real HTTP server (Starlette on uvicorn) that tests script.

    fake = FakeAudio()
    with ServerThread(fake.app()) as server:                       # base URL: server.url + "/v1"
        fake.script(AudioReply(usage={"type": "duration", "seconds": 3}))
        fake.requests[-1].fields["model"]                          # what the gateway forwarded

Transcriptions and translations (multipart) are answered in the `response_format` asked for
(json, verbose_json, diarized_json: JSON; text, srt, vtt: text/plain), or with
`transcript.text.*` events for `stream=true`. Speech is answered with `AudioReply.chunks`, one
write each with a short pause between them (so each reaches the gateway as its own read); the
last one is held back while `AudioReply.hold` is set and not yet released, and `finished` says
whether the whole body went out. `stream_format: "sse"` gets `speech.audio.*` events.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHUNK_PAUSE_S = 0.05
HOLD_LIMIT_S = 10.0  # a held chunk goes out after this even if the test never releases it
TRANSCRIPT = "hello world from the fake"


@dataclass
class AudioReply:
    """How the fake answers one request."""

    status: int = 200
    text: str = TRANSCRIPT
    usage: dict[str, Any] | None = None  # the `usage` object reported (None: none)
    duration: float = 2.5  # verbose_json's and diarized_json's `duration`
    chunks: list[bytes] = field(default_factory=lambda: [b"ID3\x04chunk-one", b"chunk-two", b"chunk-three"])
    content_type: str = "audio/mpeg"
    hold: threading.Event | None = None  # hold the last speech chunk until this is set
    ignores_stream: bool = False  # answer `stream=true` with JSON, as whisper-1 does


@dataclass
class Seen:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name → (filename, type, bytes)
    body: dict[str, Any] = field(default_factory=dict)


class FakeAudio:
    """The scriptable fake audio provider."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.queue: list[AudioReply] = []
        self.default = AudioReply()
        self.requests: list[Seen] = []
        self.finished = threading.Event()  # the last speech body went out whole

    def script(self, *replies: AudioReply) -> None:
        self.queue.extend(replies)

    def _next(self) -> AudioReply:
        return self.queue.pop(0) if self.queue else self.default

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
                Route("/v1/audio/translations", self._transcribe, methods=["POST"]),
                Route("/v1/audio/speech", self._speech, methods=["POST"]),
            ]
        )

    async def _transcribe(self, request: Request) -> Response:
        seen = Seen(request.url.path, dict(request.headers))
        async with request.form(max_files=4, max_fields=100) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    seen.files[name] = (value.filename or "", value.content_type or "", await value.read())
                else:
                    seen.fields.setdefault(name, []).append(value)
        self.requests.append(seen)
        reply = self._next()
        if reply.status >= 400:
            return _error(reply.status)
        if seen.fields.get("stream") == ["true"] and not reply.ignores_stream:
            return StreamingResponse(_transcript_events(reply), media_type="text/event-stream")
        fmt = (seen.fields.get("response_format") or ["json"])[0]
        return _transcript(reply, fmt, "translate" if "translations" in seen.path else "transcribe")

    async def _speech(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests.append(Seen(request.url.path, dict(request.headers), body=body))
        reply = self._next()
        if reply.status >= 400:
            return _error(reply.status)
        if body.get("stream_format") == "sse":
            return StreamingResponse(_speech_events(reply), media_type="text/event-stream")
        return StreamingResponse(self._chunks(reply), media_type=reply.content_type)

    async def _chunks(self, reply: AudioReply) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(reply.chunks):
            if i:
                await asyncio.sleep(CHUNK_PAUSE_S)
            if i == len(reply.chunks) - 1 and reply.hold is not None:
                await asyncio.to_thread(reply.hold.wait, HOLD_LIMIT_S)
            yield chunk
        self.finished.set()


def _error(status: int) -> JSONResponse:
    error = {"message": f"fake audio upstream error {status}", "type": "server_error", "code": None}
    return JSONResponse({"error": error}, status)


def _transcript(reply: AudioReply, fmt: str, task: str) -> Response:
    if fmt == "text":
        return Response(reply.text, media_type="text/plain")
    if fmt == "srt":
        return Response(f"1\n00:00:00,000 --> 00:00:02,500\n{reply.text}\n\n", media_type="text/plain")
    if fmt == "vtt":
        return Response(f"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n{reply.text}\n\n", media_type="text/plain")
    payload: dict[str, Any] = {"text": reply.text}
    if fmt == "verbose_json":
        segment = {"id": 0, "seek": 0, "start": 0.0, "end": reply.duration, "text": reply.text}
        payload.update(task=task, language="english", duration=reply.duration, segments=[segment])
    elif fmt == "diarized_json":
        segment = {
            "type": "transcript.text.segment",
            "id": "seg_0",
            "start": 0.0,
            "end": reply.duration,
            "text": reply.text,
            "speaker": "A",
        }
        payload.update(task=task, duration=reply.duration, segments=[segment])
    if reply.usage is not None:
        payload["usage"] = reply.usage
    return JSONResponse(payload)


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


async def _transcript_events(reply: AudioReply) -> AsyncIterator[bytes]:
    for word in reply.text.split(" "):
        yield _sse({"type": "transcript.text.delta", "delta": word + " "})
    done: dict[str, Any] = {"type": "transcript.text.done", "text": reply.text}
    if reply.usage is not None:
        done["usage"] = reply.usage
    yield _sse(done)


async def _speech_events(reply: AudioReply) -> AsyncIterator[bytes]:
    for chunk in reply.chunks:
        yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
    done: dict[str, Any] = {"type": "speech.audio.done"}
    if reply.usage is not None:
        done["usage"] = reply.usage
    yield _sse(done)
