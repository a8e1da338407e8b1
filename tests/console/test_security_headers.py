"""Every console response carries the security headers, and no template needs inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.headers import CONTENT_SECURITY_POLICY
from shared.models import User
from tests.console.conftest import Console

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _assert_secure(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name


def test_the_policy_allows_only_our_own_files() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "url",
    [
        "/login",
        "/signup",
        "/forgot",
        "/models",
        "/static/console.css",
        "/static/htmx-2.0.11.min.js",
        "/nowhere",
    ],
)
def test_public_responses_carry_the_headers(web: Console, url: str) -> None:
    _assert_secure(web.get(url))


def test_signed_in_redirects_and_errors_carry_the_headers(web: Console, customer: User) -> None:
    _assert_secure(web.get("/keys"))  # a redirect to sign in
    _assert_secure(web.client.post("/keys", data={"name": "no token"}))  # 400
    web.login_as(customer)
    _assert_secure(web.get("/keys"))
    _assert_secure(web.get("/operator/users"))  # 403
    _assert_secure(web.post("/keys", {"name": "x"}, htmx=True))  # an htmx fragment


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style|\sstyle\s*=", re.I)


def test_templates_have_no_inline_scripts_handlers_or_styles() -> None:
    offences = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE_SCRIPT.search(line) or INLINE_HANDLER.search(line) or INLINE_STYLE.search(line):
                offences.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offences == []
