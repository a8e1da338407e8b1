"""One-time password-reset links from the console and the forgot-password page (mailed over SMTP).

A link works once, expires, follows the sign-up password rules, ends every session of the user and
clears their sign-in throttle; the forgot page never says whether an account exists and is throttled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask

from console import create_app
from shared import throttle
from shared.accounts import create_user
from shared.models import User, utcnow
from shared.password_resets import PasswordReset, issue_reset
from shared.settings import Secret, Settings
from tests.cli.conftest import snapshot
from tests.console.conftest import Console, text
from tests.support.smtp_sink import SmtpSink

OLD = "correct horse battery"
NEW = "brand new password"
LINK_RE = re.compile(
    r'data-testid="reset-link"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*data-testid="reset-link"'
)
MAIL_LINK_RE = re.compile(r"http://console\.example/reset/\S+")
PUBLIC_URL = "http://console.example"


def _issued_link(web: Console, user: User) -> str:
    page = web.post(f"/operator/users/{user.id}/reset-link")
    assert page.status_code == 200
    match = LINK_RE.search(text(page))
    assert match, "no reset link on the page"
    return match.group(1) or match.group(2)


def _sign_in(console: Console, email: str, password: str) -> int:
    return console.post("/login", {"email": email, "password": password}).status_code


def test_an_operator_link_sets_a_new_password_once(
    app: Flask, web: Console, other_web: Console, operator: User
) -> None:
    user = create_user("alice@example.com", OLD)
    assert _sign_in(other_web, user.email, OLD) == 303  # alice is signed in elsewhere
    web.login_as(operator)
    link = _issued_link(web, user)
    assert link.startswith("http://localhost/reset/")
    token = urlsplit(link).path.rsplit("/", 1)[1]
    stored = PasswordReset.get(PasswordReset.user == user.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and stored.used_at is None
    assert dt.timedelta(minutes=59) < stored.expires_at - utcnow() <= dt.timedelta(hours=1)
    assert token not in repr(snapshot())  # only the hash is stored

    stranger = Console(app.test_client())
    path = urlsplit(link).path
    form = stranger.get(path)
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    done = stranger.post(path, {"password": NEW, "confirm": NEW})
    assert done.status_code == 303 and done.location == "/login"
    assert other_web.get("/").status_code == 302  # every session of alice ended
    assert _sign_in(stranger, user.email, OLD) == 401
    assert _sign_in(stranger, user.email, NEW) == 303

    again = Console(app.test_client())
    reused = again.post(path, {"password": "third password", "confirm": "third password"})
    assert reused.status_code == 404 and "already used, it expired" in text(reused)
    assert again.get(path).status_code == 404
    assert _sign_in(again, user.email, NEW) == 303


def test_an_expired_link_fails(app: Flask, web: Console) -> None:
    user = create_user("bob@example.com", OLD)
    token = issue_reset(user.id).token
    PasswordReset.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    refused = web.post(f"/reset/{token}", {"password": NEW, "confirm": NEW})
    assert refused.status_code == 404 and "it expired" in text(refused)
    assert _sign_in(web, user.email, OLD) == 303


def test_a_made_up_link_fails(web: Console) -> None:
    user = create_user("bob@example.com", OLD)
    issue_reset(user.id)
    assert web.post("/reset/not-a-real-token", {"password": NEW, "confirm": NEW}).status_code == 404
    assert _sign_in(web, user.email, OLD) == 303


def test_the_new_password_follows_the_signup_rules(web: Console) -> None:
    user = create_user("carol@example.com", OLD)
    path = f"/reset/{issue_reset(user.id).token}"
    assert "At least 8 characters" in text(web.post(path, {"password": "short", "confirm": "short"}))
    assert "Passwords do not match" in text(web.post(path, {"password": NEW, "confirm": "something else"}))
    assert web.post(path, {"password": NEW, "confirm": NEW}).status_code == 303  # still usable after
    assert _sign_in(web, user.email, NEW) == 303


def test_a_reset_clears_the_sign_in_throttle(app: Flask, web: Console) -> None:
    user = create_user("dave@example.com", OLD)
    app.config["LOGIN_LIMITS"] = throttle.Limits(per_email=2, backoff_s=600)
    for _ in range(2):
        assert _sign_in(web, user.email, "guess guess") == 401
    assert _sign_in(web, user.email, OLD) == 429
    web.post(f"/reset/{issue_reset(user.id).token}", {"password": NEW, "confirm": NEW})
    assert _sign_in(web, user.email, NEW) == 303


def test_the_login_page_links_to_forgot_password(web: Console) -> None:
    assert 'href="/forgot"' in text(web.get("/login"))
    page = web.get("/forgot")
    assert page.status_code == 200 and "Ask the operator for a password-reset link" in text(page)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mailing(settings: Settings, sink: SmtpSink) -> Console:
    """A browser on a console that mails reset links to the sink."""
    app = create_app(
        dataclasses.replace(
            settings,
            smtp_url=Secret(sink.url),
            mail_from="tollgate@console.example",
            console_public_url=PUBLIC_URL,
        )
    )
    return Console(app.test_client())


def test_forgot_password_mails_a_working_link(mailing: Console, sink: SmtpSink) -> None:
    user = create_user("erin@example.com", OLD)
    asked = mailing.post("/forgot", {"email": "Erin@Example.com"})
    assert asked.status_code == 303
    assert "we have emailed it a link" in text(mailing.get(asked.location))
    mail = sink.wait_for_mail()
    assert (mail["To"], mail["From"]) == (user.email, "tollgate@console.example")
    link = MAIL_LINK_RE.search(mail.get_payload(decode=True).decode()).group(0)
    done = mailing.post(urlsplit(link).path, {"password": NEW, "confirm": NEW})
    assert done.status_code == 303
    assert _sign_in(mailing, user.email, NEW) == 303


# The page's CSRF token carries a timestamp, so two renders differ in it alone.
# Every CSRF token on the page (the form's, the language switch's, htmx's header): each carries
# a timestamp, so two pages a second apart differ there and nowhere else.
CSRF_RE = re.compile(r'"X-CSRFToken": "[^"]+"|name="csrf_token" (?:type="hidden" )?value="[^"]+"')


def _answer(console: Console, email: str) -> tuple[int, str, str]:
    asked = console.post("/forgot", {"email": email})
    return (
        asked.status_code,
        asked.location,
        CSRF_RE.sub("", text(console.get("/forgot"))),
    )


def test_forgot_password_answers_the_same_for_unknown_emails(mailing: Console, sink: SmtpSink) -> None:
    create_user("erin@example.com", OLD)
    User.create(email="off@example.com", group=User.get().group, status="disabled")
    known = _answer(mailing, "erin@example.com")
    sink.wait_for_mail()
    assert _answer(mailing, "nobody@example.com") == known
    assert _answer(mailing, "off@example.com") == known
    time.sleep(0.3)  # the mail would be sent from a thread by now
    assert len(sink.mails) == 1
    assert PasswordReset.select().count() == 1


def test_forgot_password_is_throttled_for_any_email(mailing: Console, sink: SmtpSink) -> None:
    for _ in range(3):
        assert mailing.post("/forgot", {"email": "nobody@example.com"}).status_code == 303
    refused = mailing.post("/forgot", {"email": "nobody@example.com"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 59
    assert "Try again in" in text(refused)


def test_no_mail_is_sent_without_a_public_url(settings: Settings, sink: SmtpSink) -> None:
    """A link built from the Host header could point at the attacker's host, so none is mailed."""
    app = create_app(dataclasses.replace(settings, smtp_url=Secret(sink.url)))
    create_user("erin@example.com", OLD)
    web = Console(app.test_client())
    page = web.post("/forgot", {"email": "erin@example.com"})
    assert page.status_code == 200 and "Ask the operator" in text(page)
    time.sleep(0.2)
    assert sink.mails == [] and not PasswordReset.select().exists()
