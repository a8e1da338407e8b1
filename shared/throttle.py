"""Login throttling: too many failed sign-ins for one email or one client address lock it out.

Counters live in the database so every console worker sees the same numbers. A counter covers
a fixed window that starts at its first failure; a success clears the email's counter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import CharField, DateTimeField, IntegerField

from shared.db import BaseModel, write_transaction
from shared.models import utcnow


class LoginThrottle(BaseModel):
    """Failed sign-ins for one key ("email:…" or "ip:…") since `window_start`."""

    key = CharField(primary_key=True, max_length=300)
    failures = IntegerField(default=0)
    window_start = DateTimeField(default=utcnow)

    class Meta:
        table_name = "login_throttle"


@dataclass(frozen=True)
class Limits:
    """How many failures a key may have inside one window."""

    per_email: int = 5
    per_address: int = 30
    window_s: int = 15 * 60


def _keys(email: str, address: str) -> list[tuple[str, int]]:
    return [(f"email:{email.strip().lower()}", 0), (f"ip:{address}", 1)]


def locked_for(email: str, address: str, limits: Limits = Limits()) -> int:
    """Seconds until this email/address may try again; 0 when not locked."""
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=limits.window_s)
    caps = (limits.per_email, limits.per_address)
    wait = 0
    for key, which in _keys(email, address):
        row = LoginThrottle.get_or_none((LoginThrottle.key == key) & (LoginThrottle.window_start >= cutoff))
        if row is not None and row.failures >= caps[which]:
            left = (row.window_start + dt.timedelta(seconds=limits.window_s) - now).total_seconds()
            wait = max(wait, int(left) + 1)
    return wait


def record_failure(email: str, address: str, limits: Limits = Limits()) -> None:
    """Count one failed sign-in against the email and the address (a stale window restarts)."""
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=limits.window_s)
    with write_transaction():
        for key, _ in _keys(email, address):
            LoginThrottle.delete().where(
                (LoginThrottle.key == key) & (LoginThrottle.window_start < cutoff)
            ).execute()
            LoginThrottle.insert(key=key, failures=1, window_start=now).on_conflict(
                conflict_target=[LoginThrottle.key],
                update={LoginThrottle.failures: LoginThrottle.failures + 1},
            ).execute()


def record_success(email: str) -> None:
    """Forget the failures of an email that just signed in."""
    key = _keys(email, "")[0][0]
    LoginThrottle.delete().where(LoginThrottle.key == key).execute()
