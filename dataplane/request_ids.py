"""Request ids: every response carries `x-request-id` and `request-id`.

We always generate our own id (`req_` + 24 hex digits) and bill under it. A client's
`X-Request-Id` is echoed back in `x-request-id` (so its logs line up) and stored on the usage
record, but never used as the billing key: reusing an id must not make a request free.
"""

from __future__ import annotations

import os
import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLIENT_ID_RE = re.compile(rb"^[\x21-\x7e]{1,200}$")
EXPOSE = b"x-request-id, request-id, x-tollgate-max-tokens-lowered"


class RequestIds:
    """Fresh 96-bit random request ids, cheaply.

    A private generator seeded from the OS once (per middleware, so per process) instead of a
    system call per request; the ids only need to be unique, and 96 random bits are.
    """

    def __init__(self) -> None:
        self._random = random.Random(os.urandom(32) + os.getpid().to_bytes(8, "little"))

    def new(self) -> str:
        return f"req_{self._random.getrandbits(96):024x}"


def client_request_id(scope: Scope) -> str | None:
    """The client's X-Request-Id if it is a sane header value (printable ASCII, ≤ 200 chars)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if CLIENT_ID_RE.match(value) else None
    return None


class RequestIdMiddleware:
    """Pure ASGI middleware: assigns ids and adds the headers to every response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = self.ids.new()
        theirs = client_request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = ours
        state["client_request_id"] = theirs
        extra = [
            (b"x-request-id", (theirs or ours).encode("ascii")),
            (b"request-id", ours.encode("ascii")),
            (b"access-control-expose-headers", EXPOSE),
        ]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_ids)
