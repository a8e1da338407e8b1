"""Relaying a binary upstream body (synthesised speech) to the client as it arrives, billed once.

Unlike an event stream there is nothing to meter inside the bytes: what such a reply costs is
known before the call (the characters to speak, one request), so the relay bills that in full
once the upstream's body has arrived whole, and nothing when the upstream failed before the end.
A client that leaves early is still billed: the upstream was asked to produce all of it. As with
event streams, the settlement is journaled and queued before the last bytes go out
(dataplane/stream_relay.py), so a crash right after cannot lose it.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from starlette.types import Receive, Scope, Send

from dataplane.billing import Outcome, Reservation
from dataplane.failover import Attempt, is_timeout
from dataplane.gateway import Gateway
from dataplane.stream_relay import ClientWatch
from shared.money import TokenUsage

log = logging.getLogger("tollgate.dataplane.bytes")

# Headers of the upstream's reply that describe the body and go to the client as they are.
PASSED_HEADERS = ("content-type", "content-disposition")


class ByteRelay(ClientWatch):
    """An ASGI response that relays one upstream body chunk by chunk and settles it once."""

    def __init__(
        self,
        gateway: Gateway,
        attempt: Attempt,
        reservation: Reservation,
        usage: TokenUsage,
        headers: dict[str, str],
    ) -> None:
        self.gateway = gateway
        self.attempt = attempt
        self.reservation = reservation
        self.usage = usage
        upstream = attempt.response.headers
        passed = {name: upstream[name] for name in PASSED_HEADERS if name in upstream}
        passed.setdefault("content-type", "application/octet-stream")
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in {**passed, **headers}.items()]
        self.client_gone = False
        self.ended = False
        self.first_at: float | None = None
        self.error = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        main = asyncio.current_task()
        assert main is not None
        watcher: asyncio.Task | None = None
        settled = False
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            watcher = asyncio.create_task(self._watch_disconnect(receive, main))
            last = await self._pump(send)
            settled = self._settle(complete=self.error == "")
            self.ended = True
            await send({"type": "http.response.body", "body": last, "more_body": False})
        except asyncio.CancelledError:
            if not self.client_gone:
                raise
            main.uncancel()
        finally:
            if watcher is not None:
                watcher.cancel()
            if not settled:
                self._settle(complete=False)
            await self.attempt.response.aclose()

    async def _pump(self, send: Send) -> bytes:
        """Send every chunk but the last as it arrives; returns the last (sent after settling)."""
        held = b""
        try:
            async for chunk in self.attempt.response.aiter_bytes():
                if not chunk:
                    continue
                if self.first_at is None:
                    self.first_at = time.monotonic()
                if held:
                    await send({"type": "http.response.body", "body": held, "more_body": True})
                held = chunk
        except httpx.HTTPError as exc:
            self.error = (
                "The upstream provider timed out mid-stream."
                if is_timeout(exc)
                else "The upstream provider's connection was lost mid-stream."
            )
            self.gateway.health.failed(self.attempt.route, "stream")
            log.warning("binary reply from %s cut: %s", self.attempt.route.provider.name, exc)
        return held

    def _settle(self, complete: bool) -> bool:
        """Bill the reply (once): in full when it arrived whole or the client left, else nothing."""
        r = self.reservation
        billed = complete or (self.client_gone and not self.error)
        usage = self.usage if billed else TokenUsage()
        ttft = int((self.first_at - r.started) * 1000) if self.first_at is not None else None
        status = "ok" if complete else ("partial" if billed else "error")
        error = self.error or ("client disconnected" if self.client_gone else "")
        http_status = 499 if self.client_gone else 200
        source = "counted" if billed else "none"
        self.gateway.billing.finish(
            r, Outcome(usage, status, http_status, self.attempt.route, source, ttft, error)
        )
        return True
