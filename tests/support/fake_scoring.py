"""A fake moderation and rerank provider: a real HTTP server (Starlette on uvicorn) that tests script.

    fake = FakeScoring()
    with ServerThread(fake.app()) as server:
        fake.script(Scored(status=500), Scored(tokens=42))   # the next two requests, in order
        fake.default = Scored(search_units=2)                 # every request after those
        fake.requests[-1].body                                # what the gateway sent

It answers `POST /v1/moderations` like OpenAI (one result per string, one for an array of parts),
`POST /v1/rerank` like vLLM and Jina (`usage.total_tokens`, documents echoed) and
`POST /v2/rerank` like Cohere's v2 API (`meta.billed_units.search_units`, no usage). Rerank
results come back in the documents' order, not sorted, so the gateway's own ordering shows.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.upstream import Logged

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass
class Scored:
    """How the fake answers one request."""

    status: int = 200
    tokens: int | None = None  # the input tokens reported (None: no usage at all)
    search_units: int | None = None  # Cohere's billed search units (on /v2/rerank)
    scores: list[float] | None = None  # relevance per document, in order (default 0.1, 0.2, ...)
    flagged: bool = False
    body: dict[str, Any] | None = None  # answer exactly this (a malformed reply)


class FakeScoring:
    """The scriptable state of one fake scoring provider (shared with the server thread)."""

    def __init__(self) -> None:
        self.default = Scored()
        self.queue: list[Scored] = []
        self.requests: list[Logged] = []
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.default = Scored()
            self.queue = []
            self.requests = []

    def script(self, *replies: Scored) -> None:
        with self.lock:
            self.queue.extend(replies)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/moderations", self._moderations, methods=["POST"]),
                Route("/v1/rerank", self._rerank, methods=["POST"]),
                Route("/v2/rerank", self._rerank, methods=["POST"]),
            ]
        )

    async def _receive(self, request: Request) -> tuple[Scored, dict[str, Any]]:
        body = json.loads(await request.body())
        with self.lock:
            self.requests.append(Logged(request.url.path, dict(request.headers), body))
            reply = self.queue.pop(0) if self.queue else self.default
        return reply, body

    def _failed(self, reply: Scored) -> Response | None:
        if reply.status >= 400:
            error = {"error": {"message": f"fake scorer says {reply.status}", "type": "server_error"}}
            return JSONResponse(error, reply.status)
        return JSONResponse(reply.body) if reply.body is not None else None

    async def _moderations(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        failed = self._failed(reply)
        if failed is not None:
            return failed
        inputs = body["input"]
        count = len(inputs) if isinstance(inputs, list) and all(isinstance(i, str) for i in inputs) else 1
        result = {
            "flagged": reply.flagged,
            "categories": {c: reply.flagged and c == "violence" for c in CATEGORIES},
            "category_scores": {c: 0.9 if reply.flagged and c == "violence" else 0.001 for c in CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
        }
        payload: dict[str, Any] = {"id": "modr-fake", "model": body.get("model"), "results": [result] * count}
        if reply.tokens is not None:
            payload["usage"] = {"prompt_tokens": reply.tokens, "total_tokens": reply.tokens}
        return JSONResponse(payload)

    async def _rerank(self, request: Request) -> Response:
        reply, body = await self._receive(request)
        failed = self._failed(reply)
        if failed is not None:
            return failed
        documents = body["documents"]
        scores = reply.scores or [round(0.1 * (i + 1), 3) for i in range(len(documents))]
        results = [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]
        if request.url.path.startswith("/v2/"):
            meta: dict[str, Any] = {"api_version": {"version": "2"}}
            if reply.search_units is not None:
                meta["billed_units"] = {"search_units": reply.search_units}
            return JSONResponse({"id": "cohere-rerank-1", "results": results, "meta": meta})
        for result in results:
            result["document"] = {"text": documents[result["index"]]}
        payload: dict[str, Any] = {"id": "rerank-fake", "model": body.get("model"), "results": results}
        if reply.tokens is not None:
            payload["usage"] = {"total_tokens": reply.tokens}
        return JSONResponse(payload)
