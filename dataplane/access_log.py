"""One log line per request, at INFO on `tollgate.dataplane.access` (TOLLGATE_LOG_FORMAT=json turns
that level on; in text the line is not made, and `serve-api --access-log` gives uvicorn's).

Its fields (shared/logs.py puts them in the JSON object): `request_id` (ours, the billing key, as
`request-id` and, unless the client sent its own, `x-request-id` carry it), `client_request_id`
when the client sent one, `method`, `path` (never the query string: Gemini clients may send the
key there), `status`, `duration_ms` (to the last byte of a stream), `model` as asked for and
`key_id`, once they are known. Never the key itself.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tollgate.dataplane.access")


class AccessLogMiddleware:
    """Pure ASGI middleware, inside RequestIdMiddleware (it reads the ids that one assigns)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logging_on():
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before it answered

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            write_line(scope, status, started)


def write_line(scope: Scope, status: int, started: float) -> None:
    """Log the request's line (`started`: its `time.perf_counter()` when it came in)."""
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    log.info(
        "%s %s %s %.1f ms",
        scope["method"],
        scope["path"],
        status,
        duration_ms,
        extra={"fields": request_fields(scope, status, duration_ms)},
    )


def logging_on() -> bool:
    """Whether access lines are made (JSON logs); checked per request, as logging can be reconfigured."""
    return log.isEnabledFor(logging.INFO)


def request_fields(scope: Scope, status: int, duration_ms: float) -> dict[str, Any]:
    """The line's fields from the request's scope state (set by the request ids, auth and pipeline)."""
    state = scope.get("state", {})
    fields: dict[str, Any] = {
        "request_id": state.get("request_id"),
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "duration_ms": duration_ms,
        "model": state.get("model"),
        "key_id": state.get("key_id"),
    }
    if state.get("client_request_id"):
        fields["client_request_id"] = state["client_request_id"]
    return fields
