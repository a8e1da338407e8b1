"""Sign-in throttling per email and per client address: claimed before the password is checked.

Each key ("email:…" or "ip:…", with a scope prefix for other forms) has a row. An attempt first
claims a slot on both of its keys in one write transaction (a conditional UPDATE), so concurrent
attempts cannot all get through: while a key has fewer failures than its limit, up to the limit's
number of attempts may be in flight; past it, one at a time, and only after a backoff that
doubles with each failure (1 s, 2 s, 4 s … up to a cap). The right password therefore always
works once the backoff has passed; nothing is locked for a fixed time. A success clears the
email's failures; failures are forgotten after a quiet period.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

from peewee import Case, CharField, DateTimeField, IntegerField

from shared.db import BaseModel, write_transaction
from shared.models import utcnow

LOGIN = ""  # sign-in keys have no scope prefix (rows written before scopes existed keep working)
RESET = "reset:"  # the forgot-password page
MAX_DOUBLINGS = 30  # beyond this the cap has long applied; keeps the arithmetic in range


class LoginThrottle(BaseModel):
    """One key's consecutive failures, attempts in flight, and when the next attempt may start."""

    key = CharField(primary_key=True, max_length=300)
    failures = IntegerField(default=0)
    last_failure_at = DateTimeField(default=utcnow)
    pending = IntegerField(default=0)
    pending_since = DateTimeField(null=True)
    next_try_at = DateTimeField(null=True)

    class Meta:
        table_name = "login_throttle"


@dataclass(frozen=True)
class Limits:
    """Failures allowed per key before backoff, and how the backoff grows."""

    per_email: int = 5
    per_address: int = 30
    backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    forget_after_s: float = 15 * 60
    # A claim older than this is taken to belong to a request that died without answering.
    claim_timeout_s: float = 60.0


@dataclass(frozen=True)
class Claim:
    """An attempt's hold on its email and address keys; `wait_s` > 0 means it was refused."""

    keys: tuple[str, str]
    caps: tuple[int, int]
    wait_s: int = 0

    @property
    def granted(self) -> bool:
        return self.wait_s == 0


class _Refused(Exception):
    """Rolls back a claim that got one key but not the other."""


def _keys(email: str, address: str, scope: str) -> tuple[str, str]:
    return f"{scope}email:{email.strip().lower()}", f"{scope}ip:{address}"


def backoff_s(failures: int, cap: int, limits: Limits) -> float:
    """How long a key with `failures` consecutive failures waits before its next attempt."""
    if failures < cap:
        return 0.0
    doublings = min(failures - cap, MAX_DOUBLINGS)
    return min(limits.backoff_s * 2**doublings, limits.max_backoff_s)


def _refresh(key: str, now: dt.datetime, limits: Limits) -> None:
    """Create the key's row if missing; forget old failures and claims of requests that died."""
    T = LoginThrottle
    T.insert(key=key, failures=0, last_failure_at=now, pending=0).on_conflict_ignore().execute()
    quiet = now - dt.timedelta(seconds=limits.forget_after_s)
    T.update(failures=0, next_try_at=None).where(
        (T.key == key) & (T.last_failure_at < quiet) & (T.failures > 0)
    ).execute()
    stale = now - dt.timedelta(seconds=limits.claim_timeout_s)
    T.update(pending=0).where((T.key == key) & (T.pending > 0) & (T.pending_since < stale)).execute()


def _take(key: str, cap: int, now: dt.datetime) -> bool:
    """Claim one slot of `key` if its backoff has passed and it has room; True when claimed."""
    T = LoginThrottle
    ready = T.next_try_at.is_null() | (T.next_try_at <= now)
    room = (T.failures + T.pending < cap) | (T.pending == 0)
    claimed = T.update(pending=T.pending + 1, pending_since=now).where((T.key == key) & ready & room)
    return claimed.execute() == 1


def _wait_s(keys: tuple[str, str], now: dt.datetime) -> int:
    """Whole seconds until a refused attempt is worth retrying (at least 1)."""
    wait = 1.0
    for row in LoginThrottle.select().where(LoginThrottle.key.in_(keys)):
        if row.next_try_at is not None and row.next_try_at > now:
            wait = max(wait, (row.next_try_at - now).total_seconds())
    return math.ceil(wait)


def claim(email: str, address: str, limits: Limits = Limits(), scope: str = LOGIN) -> Claim:
    """Claim an attempt for this email and address, before checking anything; see `Claim.granted`."""
    keys = _keys(email, address, scope)
    caps = (limits.per_email, limits.per_address)
    now = utcnow()
    try:
        with write_transaction():
            for key, cap in zip(keys, caps, strict=True):
                _refresh(key, now, limits)
                if not _take(key, cap, now):
                    raise _Refused
    except _Refused:
        return Claim(keys, caps, _wait_s(keys, now))
    return Claim(keys, caps)


def _released() -> Case:
    return Case(None, [(LoginThrottle.pending > 0, LoginThrottle.pending - 1)], 0)


def _pairs(attempt: Claim) -> Iterator[tuple[str, int]]:
    return zip(attempt.keys, attempt.caps, strict=True)


def fail(attempt: Claim, limits: Limits = Limits()) -> None:
    """The claimed attempt failed: count it on both keys and start their backoff."""
    T = LoginThrottle
    now = utcnow()
    with write_transaction():
        for key, cap in _pairs(attempt):
            # The UPDATE locks the row (PostgreSQL) or the database (SQLite) before it is read back.
            T.update(failures=T.failures + 1, pending=_released(), last_failure_at=now).where(
                T.key == key
            ).execute()
            row = T.get_or_none(T.key == key)
            if row is not None:
                wait = backoff_s(row.failures, cap, limits)
                next_try = now + dt.timedelta(seconds=wait) if wait else None
                T.update(next_try_at=next_try).where(T.key == key).execute()


def succeed(attempt: Claim) -> None:
    """The claimed attempt succeeded: the email starts afresh; the address keeps its count."""
    T = LoginThrottle
    email_key, address_key = attempt.keys
    with write_transaction():
        T.update(failures=0, next_try_at=None, pending=_released()).where(T.key == email_key).execute()
        T.update(pending=_released()).where(T.key == address_key).execute()


def release(attempt: Claim) -> None:
    """Give the claim back without counting it (the attempt broke before it was decided)."""
    with write_transaction():
        for key in attempt.keys:
            LoginThrottle.update(pending=_released()).where(LoginThrottle.key == key).execute()


def clear_email(email: str, scope: str = LOGIN) -> None:
    """Forget an email's failures (its password was just reset)."""
    key = _keys(email, "", scope)[0]
    LoginThrottle.update(failures=0, next_try_at=None).where(LoginThrottle.key == key).execute()
