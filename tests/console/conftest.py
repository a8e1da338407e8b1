"""Console fixtures: the Flask app on the test database, a CSRF-aware client, users and sign-in."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, sync_playwright
from werkzeug.serving import make_server

from console import create_app
from shared.accounts import create_user
from shared.db import db
from shared.models import User
from shared.sessions import open_session
from shared.settings import Settings

TOKEN_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """The console app, bound to this test's database."""
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


@dataclass
class Console:
    """A test client that sends the CSRF token the way the pages do."""

    client: FlaskClient

    def csrf(self) -> str:
        page = self.client.get("/models")
        match = TOKEN_RE.search(page.get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def get(self, url: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, htmx: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        """POST a form with the session's CSRF token (in the form, or as htmx's header)."""
        form = dict(data or {})
        headers = dict(kwargs.pop("headers", {}))
        token = self.csrf()
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": token})
        else:
            form.setdefault("csrf_token", token)
        return self.client.post(url, data=form, headers=headers, **kwargs)

    def login_as(self, user: User) -> None:
        """Sign in without a password round-trip (argon2 is slow; test_auth covers the form)."""
        with self.client.session_transaction() as session:
            session["_user_id"] = open_session(user.id)
            session["_fresh"] = True


@pytest.fixture
def live_console(app: Flask) -> Iterator[str]:
    """The console app served by a real threaded HTTP server on a free loopback port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-console", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def web(app: Flask) -> Console:
    return Console(app.test_client())


@pytest.fixture
def other_web(app: Flask) -> Console:
    """A second browser, for another user."""
    return Console(app.test_client())


@pytest.fixture
def customer(app: Flask) -> User:
    return create_user("alice@example.com")


@pytest.fixture
def other_customer(app: Flask) -> User:
    return create_user("bob@example.com")


@pytest.fixture
def operator(app: Flask) -> User:
    return create_user("op@example.com", role="operator")


def text(response) -> str:  # type: ignore[no-untyped-def]
    """A response body as text."""
    return response.get_data(as_text=True)


# Debian's chromium, headless; nothing it would fetch or update on its own.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the browser tests, one per module."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
