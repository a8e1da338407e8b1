"""A fake provider that takes no API key (as Ollama or a local vLLM): any Authorization header is a 401.

    fake = FakeUpstream()
    app = keyless_app(fake)        # the fake's OpenAI routes, plus GET /v1/models
    ...
    rejected                       # the requests turned away for carrying a credential

Its model list names `MODELS`; a `latency_s` delays every answer (for watching a test wait).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.upstream import FakeUpstream

MODELS = ("llama3.2", "qwen2.5")


@dataclass
class Keyless:
    """The keyless server's state: what it rejected, and how slow it is."""

    fake: FakeUpstream
    latency_s: float = 0.0
    rejected: list[str] = field(default_factory=list)

    def app(self) -> ASGIApp:
        inner = Starlette(
            routes=[Route("/v1/models", self._models, methods=["GET"]), Mount("/", self.fake.app())]
        )

        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await asyncio.sleep(self.latency_s)
                headers = dict(scope["headers"])
                if b"authorization" in headers:
                    self.rejected.append(headers[b"authorization"].decode("latin-1"))
                    error = {"error": {"message": "this server takes no API key", "type": "auth"}}
                    await JSONResponse(error, 401)(scope, receive, send)
                    return
            await inner(scope, receive, send)

        return guard

    async def _models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})
