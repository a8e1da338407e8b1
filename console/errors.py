"""Error pages: 400 (bad or expired form), 403, 404, 500, as a page or an htmx fragment."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from console.htmx import is_partial

MESSAGES = {
    400: "The request was not understood.",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    429: "Too many requests; wait a moment and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}


def _render(status: int, message: str) -> tuple[str, int]:
    template = "errors/_alert.html" if is_partial() else "errors/page.html"
    return render_template(template, status=status, message=message), status


def register(app: Flask) -> None:
    """Install the console's error handlers on `app`."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return _render(
            400, "Your form expired or was not sent from this site. Reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        status = exc.code or 500
        return _render(status, MESSAGES.get(status, exc.description or "Error"))

    @app.errorhandler(500)
    def server_error(exc: Exception) -> tuple[str, int]:
        return _render(500, MESSAGES[500])
