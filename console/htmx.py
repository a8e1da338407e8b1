"""Every HX-* header the console reads or writes lives here."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, redirect, render_template, request


def is_partial() -> bool:
    """True for an htmx request that wants a fragment (not a history restore, which needs a page)."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != "true"


def render_page(page: str, fragment: str, /, **context: Any) -> Response:
    """Render `fragment` for htmx requests and `page` otherwise; caches keep the two apart."""
    body = render_template(fragment if is_partial() else page, **context)
    response = make_response(body)
    response.headers["Vary"] = "HX-Request"
    return response


def hx_redirect(url: str) -> Response:
    """Send the browser to `url`: a client-side redirect for htmx, a 303 for a plain form."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)
