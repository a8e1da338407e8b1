"""Password guessing is throttled per email and per address, atomically, with a backoff that lets
the right password in once it has passed: parallel guesses get at most the limit's checks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask

from console import auth
from shared import throttle
from shared.accounts import create_user
from shared.db import db
from shared.passwords import verify_password
from shared.throttle import Limits, LoginThrottle
from tests.console.conftest import TOKEN_RE, Console, text

PASSWORD = "correct horse battery"
GUESSES = 40


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password the console checks, in order; each check is slowed to widen any race."""
    seen: list[str] = []
    lock = threading.Lock()

    def counting(stored_hash: str | None, password: str) -> bool:
        with lock:
            seen.append(password)
        time.sleep(0.05)
        return verify_password(stored_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    return seen


def _guess_in_parallel(base_url: str, emails: list[str]) -> list[httpx.Response]:
    """Each email's wrong password from its own browser, all sent at the same moment."""
    barrier = threading.Barrier(len(emails))

    def guess(i: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            token = TOKEN_RE.search(client.get("/login").text).group(1)
            barrier.wait()
            form = {"csrf_token": token, "email": emails[i], "password": f"wrong guess {i:03d}"}
            return client.post("/login", data=form)

    with ThreadPoolExecutor(len(emails)) as pool:
        return list(pool.map(guess, range(len(emails))))


def test_forty_parallel_wrong_passwords_get_at_most_the_limits_checks(
    app: Flask, live_console: str, checks: list[str]
) -> None:
    create_user("dave@example.com", PASSWORD, role="operator")
    app.config["LOGIN_LIMITS"] = Limits(per_email=5, backoff_s=60)
    responses = _guess_in_parallel(live_console, ["dave@example.com"] * GUESSES)
    statuses = Counter(r.status_code for r in responses)
    assert 1 <= len(checks) <= 5
    assert statuses == {401: len(checks), 429: GUESSES - len(checks)}
    for refused in (r for r in responses if r.status_code == 429):
        assert int(refused.headers["Retry-After"]) >= 1
        assert "Too many failed attempts. Try again in" in refused.text
    assert LoginThrottle.get(LoginThrottle.key == "email:dave@example.com").pending == 0


def test_parallel_guesses_at_many_emails_are_limited_per_address(
    app: Flask, live_console: str, checks: list[str]
) -> None:
    emails = [create_user(f"user{i}@example.com", PASSWORD).email for i in range(12)]
    app.config["LOGIN_LIMITS"] = Limits(per_email=5, per_address=3, backoff_s=60)
    responses = _guess_in_parallel(live_console, emails)
    assert 1 <= len(checks) <= 3
    assert Counter(r.status_code for r in responses) == {401: len(checks), 429: 12 - len(checks)}


def test_the_right_password_works_once_the_backoff_has_passed(app: Flask, web: Console) -> None:
    operator = create_user("root@example.com", PASSWORD, role="operator")
    app.config["LOGIN_LIMITS"] = Limits(per_email=3, backoff_s=0.5, max_backoff_s=5)
    wrong, right = (
        {"email": operator.email, "password": "guess guess"},
        {"email": operator.email, "password": PASSWORD},
    )
    for _ in range(3):
        assert web.post("/login", wrong).status_code == 401
    refused = web.post("/login", right)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "Too many failed attempts. Try again in 1 second." in text(refused)
    time.sleep(0.6)
    assert web.post("/login", wrong).status_code == 401  # checked again after the backoff ...
    row = LoginThrottle.get(LoginThrottle.key == "email:root@example.com")
    assert (row.next_try_at - row.last_failure_at).total_seconds() == 1.0  # ... which doubled
    assert web.post("/login", right).status_code == 429
    time.sleep(1.1)
    signed_in = web.post("/login", right)
    assert signed_in.status_code == 303 and web.get("/").status_code == 200
    assert LoginThrottle.get(LoginThrottle.key == "email:root@example.com").failures == 0


def test_failures_from_one_address_do_not_slow_another_email(app: Flask, web: Console) -> None:
    create_user("erin@example.com", PASSWORD)
    app.config["LOGIN_LIMITS"] = Limits(per_email=2, per_address=30, backoff_s=60)
    for _ in range(3):
        web.post("/login", {"email": "mallory@example.com", "password": "guess guess"})
    assert web.post("/login", {"email": "erin@example.com", "password": PASSWORD}).status_code == 303


def test_the_current_password_on_the_account_page_is_throttled_too(app: Flask, web: Console) -> None:
    user = create_user("frank@example.com", PASSWORD)
    app.config["LOGIN_LIMITS"] = Limits(per_email=2, backoff_s=60)
    web.login_as(user)
    change = {"current": "guess guess", "password": "new password 1", "confirm": "new password 1"}
    for _ in range(2):
        assert "not your current password" in text(web.post("/account/password", change))
    refused = web.post("/account/password", {**change, "current": PASSWORD})
    assert refused.status_code == 429 and "Retry-After" in refused.headers


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0), (4, 0), (5, 1.0), (6, 2.0), (7, 4.0), (13, 256.0), (14, 300.0), (10**6, 300.0)],
)
def test_the_backoff_doubles_up_to_its_cap(failures: int, wait: float) -> None:
    assert throttle.backoff_s(failures, 5, Limits()) == wait


def _claims_in_parallel(count: int, limits: Limits) -> list[throttle.Claim]:
    barrier = threading.Barrier(count)

    def one(_: int) -> throttle.Claim:
        with db.connection_context():
            barrier.wait()
            return throttle.claim("zed@example.com", "10.0.0.1", limits)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_claims_never_exceed_the_limit(database_url: str) -> None:
    claims = _claims_in_parallel(20, Limits(per_email=5))
    assert sum(c.granted for c in claims) == 5
    for granted in (c for c in claims if c.granted):
        throttle.fail(granted, Limits(per_email=5, backoff_s=60))
    assert not throttle.claim("zed@example.com", "10.0.0.1", Limits(per_email=5)).granted
    row = LoginThrottle.get(LoginThrottle.key == "email:zed@example.com")
    assert (row.failures, row.pending) == (5, 0)


def test_a_claim_of_a_request_that_died_is_given_back(database_url: str) -> None:
    limits = Limits(per_email=1, claim_timeout_s=0.2)
    assert throttle.claim("zed@example.com", "10.0.0.1", limits).granted  # never answered
    assert not throttle.claim("zed@example.com", "10.0.0.1", limits).granted
    time.sleep(0.3)
    assert throttle.claim("zed@example.com", "10.0.0.1", limits).granted
