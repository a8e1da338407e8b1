"""Errors on the Gemini routes, in Google's shape: `{"error": {"code", "message", "status"}}`.

`status` is the canonical Google status for the HTTP status (the table below); a wrong field is
named in a `BadRequest` detail, as Google's APIs do. The app's exception handlers come here
first: requests on a Gemini route get this shape, everything else goes on to the Anthropic and
OpenAI handlers.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dataplane.dialects.anthropic import errors as anthropic_errors
from dataplane.errors import GatewayError

GEMINI = "gemini"
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",  # the balance cannot pay for the request
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# The HTTP status of each Google status (for errors a Gemini upstream sent mid-stream).
CODES = {
    **{status: code for code, status in reversed(STATUSES.items())},
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def is_gemini(request: Request) -> bool:
    """Whether errors on this request must be in Google's shape (its endpoint's family, else by path)."""
    family = (request.scope.get("state") or {}).get("family")
    if family is not None:
        return family == GEMINI
    path = request.url.path
    # Gemini's methods are `/models/<model>:<method>` (countTokens and the like included).
    return "/v1beta/" in path or ("/models/" in path and ":" in path.rpartition("/")[2])


def status_of(code: int) -> str:
    """Google's status name for an HTTP status."""
    return STATUSES.get(code, "INTERNAL" if code >= 500 else "INVALID_ARGUMENT")


def error_object(code: int, message: str, param: str | None = None) -> dict[str, Any]:
    """Google's error object (what goes under `"error"`)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status_of(code)}
    if param:
        violation = {"field": param, "description": message}
        error["details"] = [{"@type": BAD_REQUEST, "fieldViolations": [violation]}]
    return error


def stream_failure(code: str, message: str) -> bytes:
    """The event that ends a Gemini stream which failed after the headers were sent.

    `code` is a Google status from a Gemini upstream, or the gateway's own stream failure code.
    """
    status = 504 if code == "upstream_timeout" else CODES.get(code, 500)
    return b"data: " + orjson.dumps({"error": error_object(status, message)}) + b"\n\n"


def render(exc: GatewayError) -> Response:
    """The Google-shaped response for a GatewayError (same status and headers)."""
    content = orjson.dumps({"error": error_object(exc.status, exc.message, exc.param)})
    return Response(content, exc.status, headers=exc.headers, media_type="application/json")


async def gateway_error(request: Request, exc: Exception) -> Response:
    """Exception handler for GatewayError, by API family."""
    assert isinstance(exc, GatewayError)
    if is_gemini(request):
        return render(exc)
    return await anthropic_errors.gateway_error(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405, by API family."""
    assert isinstance(exc, HTTPException)
    if not is_gemini(request):
        return await anthropic_errors.http_error(request, exc)
    if exc.status_code == 405:
        return render(GatewayError(405, f"Method {request.method} is not allowed on {request.url.path}."))
    if exc.status_code == 404:
        return render(GatewayError(404, f"Unknown path {request.url.path}."))
    return render(GatewayError(exc.status_code, str(exc.detail)))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Last resort (a bug), by API family; the OpenAI handler logs it and sets the id headers."""
    response = await anthropic_errors.unexpected_error(request, exc)
    if is_gemini(request):
        response.body = orjson.dumps({"error": error_object(500, "The gateway hit an internal error.")})
        response.headers["content-length"] = str(len(response.body))
    return response
