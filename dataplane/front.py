"""The data plane's ASGI entry: inference requests straight to the pipeline, the rest through Starlette.

A POST to an endpoint's fixed path (`/v1/chat/completions` and the like, under every prefix) is
served here in one frame: request ids, the access line, the pipeline, the error handlers. Starlette
would take it through its error middleware, our two middlewares, its exception middleware, the
router's route-by-route matching and the endpoint wrappers: eleven coroutine frames that every
resumption of the request walks (each read of the upstream's reply, each event of a stream), and
send wrappers every message goes through. Everything else (the paths with parameters, GETs, the
status and metrics routes, unknown paths, 404 and 405) goes to the Starlette app, whose middleware
does the same ids and lines.

What a client sees is the same either way: the ids in the headers, errors in the shape of the
endpoint's API family, a 500 without internals for a bug (logged here with its traceback), and a
connection closed when a bug strikes after the response began.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from dataplane import access_log, pipeline
from dataplane.dialects.gemini import errors as family_errors
from dataplane.endpoints.base import Endpoint
from dataplane.errors import GatewayError
from dataplane.request_ids import RequestIds, assign


class Front:
    """The ASGI app uvicorn runs: `endpoints` maps each fixed POST path to its endpoint."""

    def __init__(self, app: Starlette, endpoints: Mapping[str, Endpoint], ids: RequestIds) -> None:
        self.app = app
        self.endpoints = endpoints
        self.ids = ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                await self._serve(endpoint, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        extra = assign(self.ids, scope)
        status = 0  # 0: nothing sent yet

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        request = Request(scope, receive)
        try:
            response = await _answer(endpoint, request)
            await response(scope, receive, send_with_ids)
        except Exception as exc:
            if status:
                raise  # mid-response: the server closes the connection, as after any broken reply
            status = 500
            # Sent as it is: the handler sets the id headers of a 500 itself.
            await (await family_errors.unexpected_error(request, exc))(scope, receive, send)
        finally:
            if access_log.logging_on():
                access_log.write_line(scope, status or 500, started)


async def _answer(endpoint: Endpoint, request: Request) -> Response:
    """The pipeline's response, or the error it raised in the shape of the endpoint's API family."""
    try:
        return await pipeline.handle(endpoint, request)  # type: ignore[return-value]
    except GatewayError as exc:
        return await family_errors.gateway_error(request, exc)
    except HTTPException as exc:
        return await family_errors.http_error(request, exc)


def fixed_paths(routes: Mapping[str, Endpoint]) -> dict[str, Endpoint]:
    """The routes whose path has no parameter (those can be looked up by the path as it is)."""
    return {path: endpoint for path, endpoint in routes.items() if "{" not in path}
