"""Console sign-in sessions, kept server-side so that signing out really ends them.

The console's (signed) session cookie holds "<user id>.<token>"; only the token's SHA-256 is
stored. A cookie works while its row exists, has not expired and its user is active. Signing out
deletes that one session's row; a password change deletes the user's other rows; a password
reset deletes them all.
"""

from __future__ import annotations

import datetime as dt
import secrets

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField

from shared.db import BaseModel
from shared.keys import hash_key
from shared.models import Group, User, utcnow

LIFETIME = dt.timedelta(days=30)


class ConsoleSession(BaseModel):
    """One signed-in browser of a user."""

    id = AutoField()
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)

    class Meta:
        table_name = "console_session"


def _token_of(value: str, user_id: int | None = None) -> str | None:
    """The token part of a cookie value (None when malformed or, if given, not `user_id`'s)."""
    owner, _, token = (value or "").partition(".")
    if not owner.isdigit() or not token or (user_id is not None and int(owner) != user_id):
        return None
    return token


def open_session(user_id: int, lifetime: dt.timedelta = LIFETIME) -> str:
    """Start a session for the user; returns what the cookie keeps."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    expired = (ConsoleSession.user == user_id) & (ConsoleSession.expires_at <= now)
    ConsoleSession.delete().where(expired).execute()
    ConsoleSession.create(user=user_id, token_hash=hash_key(token), created_at=now, expires_at=now + lifetime)
    return f"{user_id}.{token}"


def session_user(value: str) -> User | None:
    """The active user (with their group) whose live session the cookie value names, else None."""
    token = _token_of(value)
    if token is None:
        return None
    user_id = int(value.partition(".")[0])
    return (
        User.select(User, Group)
        .join(Group)
        .switch(User)
        .join(ConsoleSession, on=(ConsoleSession.user == User.id))
        .where(
            (User.id == user_id)
            & (User.status == "active")
            & (ConsoleSession.token_hash == hash_key(token))
            & (ConsoleSession.expires_at > utcnow())
        )
        .first()
    )


def end_session(value: str) -> None:
    """End the one session the cookie value names."""
    token = _token_of(value)
    if token is not None:
        ConsoleSession.delete().where(ConsoleSession.token_hash == hash_key(token)).execute()


def end_other_sessions(user_id: int, keep: str) -> None:
    """End every session of the user except the one the cookie value `keep` names."""
    token = _token_of(keep, user_id) or ""
    others = (ConsoleSession.user == user_id) & (ConsoleSession.token_hash != hash_key(token))
    ConsoleSession.delete().where(others).execute()


def end_all_sessions(user_id: int) -> None:
    """End every session of the user."""
    ConsoleSession.delete().where(ConsoleSession.user == user_id).execute()
