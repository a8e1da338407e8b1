"""Request ids: every response carries `x-request-id` and `request-id`.

We always generate our own id (`req_` + 28 hex digits, time-ordered) and bill under it. A client's
`X-Request-Id` is echoed back in `x-request-id` (so its logs line up) and stored on the usage
record, but never used as the billing key: reusing an id must not make a request free.
"""

from __future__ import annotations

import os
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLIENT_ID_RE = re.compile(rb"^[\x21-\x7e]{1,200}$")
EXPOSE = b"x-request-id, request-id, x-tollgate-max-tokens-lowered"


class RequestIds:
    """Fresh request ids, cheaply: the millisecond they were made (48 bits), then 64 random bits.

    Time first, because the id is the unique key of the usage record and of the ledger's charge
    (`req:<id>`): ids that grow keep each batch's index inserts on the B-trees' last pages, where
    random ids touched a page per row and rewrote them all at every commit (35 % of a settlement's
    cost on SQLite in bench/). The random part comes from a private generator seeded from the OS
    once (per middleware, so per process) instead of a system call per request; ids only need to
    be unique, and 64 random bits within one millisecond are. Within a process ids strictly grow
    (one made in the same millisecond as the last, or after the clock stepped back, is the last + 1).
    """

    def __init__(self) -> None:
        self._random = random.Random(os.urandom(32) + os.getpid().to_bytes(8, "little"))
        self._last = 0

    def new(self) -> str:
        fresh = (time.time_ns() // 1_000_000) << 64 | self._random.getrandbits(64)
        self._last = max(fresh, self._last + 1)
        return f"req_{self._last:028x}"


def client_request_id(scope: Scope) -> str | None:
    """The client's X-Request-Id if it is a sane header value (printable ASCII, ≤ 200 chars)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if CLIENT_ID_RE.match(value) else None
    return None


def assign(ids: RequestIds, scope: Scope) -> list[tuple[bytes, bytes]]:
    """Give the request its ids (in the scope's state); the headers every response of it carries."""
    ours = ids.new()
    theirs = client_request_id(scope)
    state = scope.setdefault("state", {})
    state["request_id"] = ours
    state["client_request_id"] = theirs
    return [
        (b"x-request-id", (theirs or ours).encode("ascii")),
        (b"request-id", ours.encode("ascii")),
        (b"access-control-expose-headers", EXPOSE),
    ]


class RequestIdMiddleware:
    """Pure ASGI middleware: assigns ids and adds the headers to every response start."""

    def __init__(self, app: ASGIApp, ids: RequestIds) -> None:
        self.app = app
        self.ids = ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = assign(self.ids, scope)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_ids)
