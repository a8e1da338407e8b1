"""The attempt loop: try a model's routes in order until one answers.

Before the first byte reaches the client, a connect error, a timeout, a 429, a 5xx, or a
credential problem on the provider's side (401/402/403) moves on to the next route and is counted
by dataplane/health.py (against the route, or against the whole provider for connect and
credential failures). Other upstream 4xx answers are the client's problem and are returned with
their status (422 becomes 400) in our error shape.

When every route failed: with one route tried, the client sees what happened to it (504 for a
timeout, 502 otherwise, 503 when the provider rate-limited us); with several, or none left to
try (all cooling down), 503 `service_unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import httpx
import orjson

from dataplane.errors import GatewayError, service_unavailable, upstream_error, upstream_timeout
from dataplane.gateway import Gateway
from dataplane.routing import candidates
from dataplane.snapshot import ModelInfo, RouteInfo
from dataplane.upstreams.base import Upstream

log = logging.getLogger("tollgate.dataplane.failover")

RETRYABLE_4XX = {401, 402, 403, 408, 409, 429}
ERROR_BODY_LIMIT = 64 * 1024
# What a successful upstream answer must be (`open_upstream`).
JSON, TEXT, SSE, BYTES = "json", "text", "sse", "bytes"
# An event stream if the upstream sends one, else a JSON object (some models ignore `stream`).
SSE_OR_JSON = "sse-or-json"


class MakeRequest(Protocol):
    """Builds the upstream request of one call for each route tried."""

    def serves(self, adapter: Upstream) -> bool:
        """Whether a provider of this adapter's kind can take the call (natively or translated)."""
        ...

    def __call__(self, adapter: Upstream, route: RouteInfo) -> httpx.Request: ...


@dataclass
class Attempt:
    """An upstream response that answered 2xx, with the route and adapter that produced it."""

    response: httpx.Response
    route: RouteInfo
    adapter: Upstream
    payload: dict[str, Any] | None = None


@dataclass
class Failure:
    """Why one route did not work."""

    route: RouteInfo
    kind: str  # connect (incl. connect timeouts) | timeout (reading) | status | invalid
    detail: str
    status: int = 0
    retry_after: int | None = None


@dataclass
class Failures:
    items: list[Failure] = field(default_factory=list)


def failure_kind(exc: httpx.HTTPError) -> str:
    """ "connect" when no connection could be made (refused, unreachable, connect timeout), else "timeout"
    for a timeout while waiting for the answer, else "connect" (the connection broke)."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ConnectionTimeoutError) or isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    return "timeout" if is_timeout(exc) else "connect"


def is_timeout(exc: httpx.HTTPError) -> bool:
    """Timeouts by what really happened (the aiohttp transport reports refused connections as timeouts)."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError | OSError) and not isinstance(cause, asyncio.TimeoutError):
        return False
    return isinstance(exc, httpx.TimeoutException) or isinstance(cause, asyncio.TimeoutError)


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return min(max(int(float(value)), 1), 60) if value.replace(".", "", 1).isdigit() else None


def _upstream_message(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    return {"message": error} if isinstance(error, str) else {}


def client_error(response: httpx.Response, raw: bytes) -> GatewayError:
    """An upstream 4xx that is about the request itself, in our shape."""
    error = _upstream_message(raw)
    status = 400 if response.status_code == 422 else response.status_code
    message = str(
        error.get("message") or f"The upstream provider rejected the request ({response.status_code})."
    )
    code = error.get("code")
    param = error.get("param")
    return GatewayError(
        status,
        message,
        str(error.get("type") or "invalid_request_error"),
        str(code) if code is not None else None,
        str(param) if param is not None else None,
    )


def exhausted(model: ModelInfo, failures: list[Failure]) -> GatewayError:
    """The error once no route is left."""
    if not failures:
        return service_unavailable(
            f"No provider is available for `{model.slug}` right now; try again shortly.", 5
        )
    if len(failures) == 1:
        f = failures[0]
        text = f"The upstream provider for `{model.slug}` failed: {f.detail}."
        if f.kind == "timeout":
            return upstream_timeout(f"The upstream provider for `{model.slug}` timed out.")
        if f.status == 429:
            return service_unavailable(
                f"The upstream provider for `{model.slug}` is rate limiting us.", f.retry_after or 1
            )
        return upstream_error(text)
    details = "; ".join(f"{f.route.provider.name}: {f.detail}" for f in failures)
    return service_unavailable(f"All {len(failures)} providers for `{model.slug}` failed ({details}).")


async def _read_json(response: httpx.Response) -> dict[str, Any] | None:
    await response.aread()
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) and not payload.get("error") else None


async def _read_any(response: httpx.Response) -> dict[str, Any]:
    """Read a body that need not be JSON (it is in `response.content`); an empty payload stands for it."""
    await response.aread()
    return {}


async def _send(gateway: Gateway, request: httpx.Request) -> httpx.Response:
    """Send once more if a pooled keep-alive connection turned out to be closed by the server."""
    try:
        return await gateway.send(request)
    except httpx.HTTPError as exc:
        if not isinstance(exc.__cause__, aiohttp.ServerDisconnectedError):
            raise
    return await gateway.send(request)


async def _try(
    gateway: Gateway, route: RouteInfo, adapter: Upstream, make: MakeRequest, expect: str
) -> Attempt | Failure:
    """One attempt at one route; its outcome is counted in the route's health."""
    started = time.monotonic()
    result = await _attempt(gateway, route, adapter, make, expect)
    elapsed = time.monotonic() - started
    if isinstance(result, Attempt):
        gateway.health.succeeded(route, elapsed)
    else:
        gateway.health.failed(route, result.kind, result.status, elapsed)
    return result


async def _attempt(
    gateway: Gateway, route: RouteInfo, adapter: Upstream, make: MakeRequest, expect: str
) -> Attempt | Failure:
    try:
        response = await _send(gateway, make(adapter, route))
    except httpx.HTTPError as exc:
        kind = failure_kind(exc)
        return Failure(route, kind, f"{'timed out' if kind == 'timeout' else 'connection failed'} ({exc!s})")
    status = response.status_code
    if status >= 400:
        raw = await _bounded(response)
        if status >= 500 or status in RETRYABLE_4XX:
            return Failure(route, "status", f"HTTP {status}", status, _retry_after(response))
        gateway.health.answered(route)
        raise client_error(response, raw)
    if expect == BYTES:
        return Attempt(response, route, adapter)
    content_type = response.headers.get("content-type", "")
    if expect == SSE_OR_JSON and content_type.startswith("text/event-stream"):
        return Attempt(response, route, adapter)
    if expect == SSE:
        if not content_type.startswith("text/event-stream"):
            # A stream was asked for: anything else would reach the client as a broken stream.
            await _bounded(response)
            return Failure(
                route,
                "invalid",
                f"a stream was asked for, the reply was {content_type or 'of no content type'}",
            )
        return Attempt(response, route, adapter)
    try:
        payload = await _read_json(response) if expect in (JSON, SSE_OR_JSON) else await _read_any(response)
    except httpx.HTTPError as exc:
        return Failure(
            route, "timeout" if is_timeout(exc) else "stream", f"reading the reply failed ({exc!s})"
        )
    finally:
        await response.aclose()
    if payload is None:
        return Failure(route, "invalid", "the reply was not a JSON object")
    return Attempt(response, route, adapter, payload)


async def _bounded(response: httpx.Response) -> bytes:
    raw = b""
    try:
        async for chunk in response.aiter_bytes():
            raw += chunk
            if len(raw) > ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass  # The status already says it failed; the body only adds detail.
    finally:
        await response.aclose()
    return raw


async def open_upstream(
    gateway: Gateway, model: ModelInfo, make: MakeRequest, expect: str, failures: Failures
) -> Attempt:
    """The first route that answers 2xx as `expect`s says.

    JSON: the body read and parsed (a JSON object); TEXT: the body read, whatever it is; SSE: an
    event stream, left to be read; SSE_OR_JSON: an event stream left to be read, or else a JSON
    object read and parsed; BYTES: any body, left to be read.
    """
    for route in candidates(model.routes, gateway.health, gateway.rng):
        adapter = gateway.adapters.get(route.provider.kind)
        if adapter is None or not make.serves(adapter):
            continue
        result = await _try(gateway, route, adapter, make, expect)
        if isinstance(result, Attempt):
            return result
        log.warning("route %s via %s failed: %s", model.slug, route.provider.name, result.detail)
        failures.items.append(result)
    raise exhausted(model, failures.items)
