"""Sessions end server-side: a copied cookie stops working after sign-out, password change or reset."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from shared.accounts import create_user
from shared.models import User
from shared.sessions import ConsoleSession
from tests.console.conftest import Console

PASSWORD = "correct horse battery"
NEW = "new password 1"


def _cookie(console: Console) -> str:
    cookie = console.client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(app: Flask, cookie: str) -> FlaskClient:
    """A fresh browser that presents a stolen copy of a session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def _sign_in(console: Console, email: str, password: str = PASSWORD) -> None:
    assert console.post("/login", {"email": email, "password": password}).status_code == 303


def test_a_copied_cookie_stops_working_after_sign_out(app: Flask, web: Console) -> None:
    user = create_user("carol@example.com", PASSWORD)
    _sign_in(web, user.email)
    stolen = _cookie(web)
    assert _replay(app, stolen).get("/").status_code == 200  # the copy works while the session lives
    assert web.post("/logout").status_code == 303
    replayed = _replay(app, stolen).get("/")
    assert replayed.status_code == 302 and replayed.location.startswith("/login")
    assert not ConsoleSession.select().where(ConsoleSession.user == user.id).exists()


def test_sign_out_ends_this_session_only(web: Console, other_web: Console) -> None:
    user = create_user("dave@example.com", PASSWORD)
    _sign_in(web, user.email)
    _sign_in(other_web, user.email)
    web.post("/logout")
    assert web.get("/").status_code == 302
    assert other_web.get("/").status_code == 200


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(
    app: Flask, web: Console, other_web: Console
) -> None:
    user = create_user("erin@example.com", PASSWORD)
    _sign_in(web, user.email)
    _sign_in(other_web, user.email)
    copy_of_a, copy_of_b = _cookie(web), _cookie(other_web)
    changed = web.post("/account/password", {"current": PASSWORD, "password": NEW, "confirm": NEW})
    assert changed.status_code == 303
    assert web.get("/").status_code == 200  # session A stays signed in
    assert _replay(app, copy_of_a).get("/").status_code == 200  # ... as the same session
    assert other_web.get("/").status_code == 302  # session B is signed out
    assert _replay(app, copy_of_b).get("/").status_code == 302
    assert ConsoleSession.select().where(ConsoleSession.user == user.id).count() == 1


def test_sign_out_everywhere_else_ends_the_other_browsers(web: Console, other_web: Console) -> None:
    user = create_user("gina@example.com", PASSWORD)
    _sign_in(web, user.email)
    _sign_in(other_web, user.email)
    page = web.get("/account/password")
    assert b"Sign out everywhere else" in page.data
    assert web.post("/account/sessions/end-others").status_code == 303
    assert web.get("/").status_code == 200
    assert other_web.get("/").status_code == 302
    assert ConsoleSession.select().where(ConsoleSession.user == user.id).count() == 1


def test_an_expired_session_is_signed_out(web: Console) -> None:
    user = create_user("frank@example.com", PASSWORD)
    web.login_as(user)
    assert web.get("/").status_code == 200
    ConsoleSession.update(expires_at=User.get_by_id(user.id).created_at).execute()
    assert web.get("/").status_code == 302


def test_a_forged_session_value_is_refused(app: Flask, web: Console) -> None:
    user = create_user("gina@example.com", PASSWORD)
    web.login_as(user)
    for forged in (f"{user.id}.guessed-token", f"{user.id}", "x.y", ""):
        with web.client.session_transaction() as session:
            session["_user_id"] = forged
        assert web.get("/").status_code == 302, forged
