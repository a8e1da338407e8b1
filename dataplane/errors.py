"""The data plane's one error type and the catalogue of errors clients can see (PROTOCOL §3.4).

Every failure a client can meet before the first byte of a response is a `GatewayError`; one
handler turns it into OpenAI's body `{"error": {"message", "type", "param", "code"}}` with a real
status. The status is chosen where the error is raised, never by reading the message.

Balance exhaustion is answered with **402** `insufficient_quota` plus `x-should-retry: false`
(DESIGN §3 says 402; the OpenAI SDKs raise `APIStatusError` for it and do not retry).
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("tollgate.dataplane")

NO_RETRY = {"x-should-retry": "false"}


class GatewayError(Exception):
    """A failure known before the response started, rendered as an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> bytes:
        """The JSON error body."""
        return error_body(self.message, self.type, self.code, self.param)


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """OpenAI's error object as JSON bytes."""
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def invalid_api_key(message: str = "Incorrect or missing API key.") -> GatewayError:
    return GatewayError(401, message, code="invalid_api_key")


def permission_denied(message: str, code: str = "model_not_allowed") -> GatewayError:
    return GatewayError(403, message, "permission_error", code, headers=NO_RETRY)


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        404, f"The model `{model}` does not exist or is not available.", code="model_not_found", param="model"
    )


def bad_request(param: str | None, message: str, code: str | None = "invalid_request_error") -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


def too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"The request body is larger than {limit} bytes.", code="request_too_large")


def insufficient_quota(message: str) -> GatewayError:
    return GatewayError(402, message, "insufficient_quota", "insufficient_quota", headers=NO_RETRY)


def rate_limited(type_: str, message: str, wait_ms: int, headers: dict[str, str]) -> GatewayError:
    """429 for a gateway RPM/TPM limit (`type_` "requests" or "tokens"); the SDKs retry after the wait.

    `retry-after` is whole seconds rounded up, between 1 and 60 (PROTOCOL §3.3); `retry-after-ms` is exact.
    """
    wait_ms = min(max(wait_ms, 1), 60_000)
    retry = {"retry-after": str(min(-(-wait_ms // 1000), 60)), "retry-after-ms": str(wait_ms)}
    return GatewayError(429, message, type_, "rate_limit_exceeded", headers={**headers, **retry})


def upstream_error(message: str, status: int = 502) -> GatewayError:
    return GatewayError(status, message, "server_error", "upstream_error")


def upstream_timeout(message: str) -> GatewayError:
    return GatewayError(504, message, "server_error", "upstream_timeout")


def service_unavailable(message: str, retry_after_s: int = 1) -> GatewayError:
    return GatewayError(
        503, message, "server_error", "service_unavailable", headers={"retry-after": str(retry_after_s)}
    )


def render(exc: GatewayError) -> Response:
    """The HTTP response for a GatewayError."""
    return Response(exc.body(), exc.status, headers=exc.headers, media_type="application/json")


async def gateway_error(request: Request, exc: Exception) -> Response:
    """Exception handler for GatewayError."""
    assert isinstance(exc, GatewayError)
    return render(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path or method) in OpenAI's shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = GatewayError(405, f"Method {request.method} is not allowed on {request.url.path}.")
    elif exc.status_code == 404:
        error = GatewayError(404, f"Unknown path {request.url.path}.", code="unknown_url")
    else:
        error = GatewayError(exc.status_code, str(exc.detail))
    return render(error)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Last resort: a bug. The client gets a plain 500 body (never a traceback); we log it."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = GatewayError(500, "The gateway hit an internal error.", "server_error", "internal_error")
    response = render(error)
    state = request.scope.get("state") or {}
    if "request_id" in state:
        response.headers["request-id"] = state["request_id"]
        response.headers["x-request-id"] = state.get("client_request_id") or state["request_id"]
    return response
