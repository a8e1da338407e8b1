"""Fake price feeds: a real HTTP server (Starlette on uvicorn) serving documents tests set.

    feeds = FakeFeeds()
    with ServerThread(feeds.app()) as server:
        feeds.documents["/models"] = {"data": [...]}      # an OpenRouter-style catalogue feed
        feeds.documents["/cost-map.json"] = {...}         # a LiteLLM-style cost map
        feeds.failing.add("/models")                      # answer 503 from now on
        feeds.keys[-1]                                    # the last request's Authorization header
        feeds.gated.add("/models"); feeds.gate.set()      # hold answers to /models until the gate opens

Documents are served as JSON text as set (a `str` is sent as is, so tests can serve the exact
number spellings a feed uses).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class FakeFeeds:
    """The documents a fake feed server answers with (shared with the server thread)."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.failing: set[str] = set()
        self.hits: list[str] = []
        self.keys: list[str] = []  # the Authorization header of each request ("" when none)
        # Requests for a gated path wait until the gate is set (a test watching a slow source).
        self.gated: set[str] = set()
        self.gate = threading.Event()

    async def serve(self, request: Request) -> Response:
        path = request.url.path
        self.hits.append(path)
        self.keys.append(request.headers.get("authorization", ""))
        if path in self.gated:
            await asyncio.to_thread(self.gate.wait, 30)
        if path in self.failing:
            return Response("upstream feed down", status_code=503)
        if path not in self.documents:
            return Response("not found", status_code=404)
        document = self.documents[path]
        body = document if isinstance(document, str) else json.dumps(document)
        return Response(body, media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.serve)])
