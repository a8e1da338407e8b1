"""A fake OpenAI Images API: a real HTTP server (Starlette on uvicorn) that tests script.

    fake = FakeImages()
    with ServerThread(fake.app()) as server:              # base URL: server.url + "/v1"
        fake.script(ImageReply(status=500))               # the next request
        fake.default = ImageReply(form="url", usage=None) # every request after the script
        ...
        fake.requests[-1].fields, fake.requests[-1].files # what the gateway forwarded

It answers `POST /v1/images/generations` (JSON), `/v1/images/edits` and `/v1/images/variations`
(multipart) with `count` images (default: the request's `n`), each a distinct valid 1x1 PNG
(`fake.made` holds every image made, in order), in base64 or as URLs it serves itself at
`GET /files/{i}.png`; `usage` is reported as given (None: no usage at all, like DALL·E).
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GPT_IMAGE_USAGE = {
    "input_tokens": 50,
    "output_tokens": 4160,
    "total_tokens": 4210,
    "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
}


def png(red: int, green: int = 0, blue: int = 0) -> bytes:
    """A valid 1x1 RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@dataclass
class ImageReply:
    """How the fake answers one request."""

    status: int = 200
    form: str = "b64"  # b64 | url | dead-url (a URL that answers 404)
    usage: dict[str, Any] | None = None
    count: int | None = None  # images returned (None: the request's n)


@dataclass
class Received:
    """One request the fake got: its path, JSON body or form fields, and uploaded files."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, filename, bytes)


class FakeImages:
    """The scriptable state of one fake image provider (shared by the test and the server thread)."""

    def __init__(self) -> None:
        self.url = ""
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.default = ImageReply()
            self.queue: list[ImageReply] = []
            self.requests: list[Received] = []
            self.made: list[bytes] = []

    def script(self, *replies: ImageReply) -> None:
        with self.lock:
            self.queue.extend(replies)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/images/generations", self._generations, methods=["POST"]),
                Route("/v1/images/edits", self._uploads, methods=["POST"]),
                Route("/v1/images/variations", self._uploads, methods=["POST"]),
                Route("/files/{index:int}.png", self._file, methods=["GET"]),
            ]
        )

    def _next(self) -> ImageReply:
        with self.lock:
            return self.queue.pop(0) if self.queue else self.default

    async def _generations(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self._log(Received(request.url.path, dict(request.headers), body=body))
        return self._answer(int(body.get("n") or 1))

    async def _uploads(self, request: Request) -> Response:
        received = Received(request.url.path, dict(request.headers))
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    received.files.append((name, value.filename or "", await value.read()))
                else:
                    received.fields.setdefault(name, []).append(value)
        self._log(received)
        return self._answer(int(received.fields.get("n", ["1"])[0]))

    def _log(self, received: Received) -> None:
        with self.lock:
            self.requests.append(received)

    def _answer(self, n: int) -> Response:
        reply = self._next()
        if reply.status >= 400:
            error = {"message": f"fake images says {reply.status}", "type": "server_error"}
            return JSONResponse({"error": error}, reply.status)
        data = [self._image(reply.form) for _ in range(n if reply.count is None else reply.count)]
        payload: dict[str, Any] = {"created": int(time.time()), "data": data}
        if reply.usage is not None:
            payload["usage"] = reply.usage
        return JSONResponse(payload)

    def _image(self, form: str) -> dict[str, Any]:
        with self.lock:
            image = png(len(self.made) % 256, 128, 255)
            self.made.append(image)
            index = len(self.made) - 1
        if form in ("url", "dead-url"):
            path = f"/files/{index}.png" if form == "url" else "/files/missing.png"
            return {"url": self.url + path, "revised_prompt": "a revised prompt"}
        return {"b64_json": base64.b64encode(image).decode("ascii")}

    async def _file(self, request: Request) -> Response:
        index = request.path_params["index"]
        if index >= len(self.made):
            return Response(status_code=404)
        return Response(self.made[index], media_type="image/png")
