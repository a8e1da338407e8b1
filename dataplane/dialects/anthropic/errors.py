"""Errors on the Anthropic routes, in Anthropic's shape (PROTOCOL §5.4).

`{"type": "error", "error": {"type", "message"}, "request_id"}`, with the error type chosen by
the HTTP status (the table of §5.4). The app's exception handlers delegate here when the request
is on an Anthropic route (the Messages paths, or any path called with `anthropic-version`), so
the two API families never see each other's error shape; the OpenAI handlers in
`dataplane/errors.py` answer everything else.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dataplane import errors
from dataplane.errors import GatewayError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# Stream failures are recorded with the gateway's OpenAI-side codes; these are their Anthropic names.
STREAM_ERROR_TYPES = {"upstream_timeout": "timeout_error", "upstream_error": "api_error"}


def is_anthropic(request: Request) -> bool:
    """Whether errors on this request must be in Anthropic's shape (its endpoint's family, else by path)."""
    family = (request.scope.get("state") or {}).get("family")
    if family is not None:
        return family == "anthropic"
    return "/messages" in request.url.path or "anthropic-version" in request.headers


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status."""
    default = "api_error" if status >= 500 else "invalid_request_error"
    return ERROR_TYPES.get(status, default)


def stream_error_type(code: str) -> str:
    """The Anthropic error type for a stream failure code (upstream Anthropic types pass through)."""
    if code in STREAM_ERROR_TYPES:
        return STREAM_ERROR_TYPES[code]
    return code if code.endswith("_error") else "api_error"


def error_body(type_: str, message: str, request_id: str | None = None) -> bytes:
    """Anthropic's error object as JSON bytes."""
    body: dict[str, object] = {"type": "error", "error": {"type": type_, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return orjson.dumps(body)


def render(request: Request, exc: GatewayError) -> Response:
    """The Anthropic-shaped response for a GatewayError (same status and headers)."""
    request_id = (request.scope.get("state") or {}).get("request_id")
    content = error_body(error_type(exc.status), exc.message, request_id)
    return Response(content, exc.status, headers=exc.headers, media_type="application/json")


async def gateway_error(request: Request, exc: Exception) -> Response:
    """Exception handler for GatewayError, by API family."""
    assert isinstance(exc, GatewayError)
    return render(request, exc) if is_anthropic(request) else await errors.gateway_error(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405, by API family."""
    assert isinstance(exc, HTTPException)
    if not is_anthropic(request):
        return await errors.http_error(request, exc)
    if exc.status_code == 405:
        error = GatewayError(405, f"Method {request.method} is not allowed on {request.url.path}.")
    elif exc.status_code == 404:
        error = GatewayError(404, f"Unknown path {request.url.path}.")
    else:
        error = GatewayError(exc.status_code, str(exc.detail))
    return render(request, error)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Last resort (a bug), by API family; the OpenAI handler logs it and sets the id headers."""
    response = await errors.unexpected_error(request, exc)
    if is_anthropic(request):
        request_id = (request.scope.get("state") or {}).get("request_id")
        response.body = error_body("api_error", "The gateway hit an internal error.", request_id)
        response.headers["content-length"] = str(len(response.body))
    return response
