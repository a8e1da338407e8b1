"""One-time password-reset links: issued by an operator (console or CLI) or mailed on request.

A link carries a random token; only its SHA-256 is stored. A link works once, until it expires
(an hour by default). Using it sets the new password, ends every console session of the user
and clears the sign-in throttle of their email.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField

from shared import throttle
from shared.accounts import MIN_PASSWORD_LENGTH
from shared.db import BaseModel, db, write_transaction
from shared.errors import InvalidInput
from shared.keys import hash_key
from shared.mail import Mailer, send_mail
from shared.models import User, utcnow
from shared.passwords import hash_password
from shared.sessions import end_all_sessions

LIFETIME = dt.timedelta(hours=1)
PATH = "/reset/"
UNUSABLE = "This link is not valid: it was already used, it expired, or it was mistyped. Ask for a new one."

log = logging.getLogger("tollgate.password_resets")


class PasswordReset(BaseModel):
    """One issued reset link."""

    id = AutoField()
    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    used_at = DateTimeField(null=True)

    class Meta:
        table_name = "password_reset"


@dataclass(frozen=True)
class IssuedReset:
    """A new link's token (shown once, never stored) and when it stops working."""

    token: str
    expires_at: dt.datetime


def issue_reset(user_id: int, lifetime: dt.timedelta = LIFETIME) -> IssuedReset:
    """Issue a reset link for the user (their expired links are cleaned up)."""
    now = utcnow()
    expired = (PasswordReset.user == user_id) & (PasswordReset.expires_at <= now)
    PasswordReset.delete().where(expired).execute()
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    PasswordReset.create(user=user_id, token_hash=hash_key(token), created_at=now, expires_at=expires_at)
    return IssuedReset(token, expires_at)


def reset_link(public_url: str, token: str) -> str:
    """The link for `token`: absolute under the console's public URL, else a path."""
    return f"{public_url.rstrip('/')}{PATH}{token}"


def _usable(token: str):  # type: ignore[no-untyped-def]
    now = utcnow()
    return (
        (PasswordReset.token_hash == hash_key(token))
        & PasswordReset.used_at.is_null()
        & (PasswordReset.expires_at > now)
    )


def usable_reset(token: str) -> PasswordReset | None:
    """The unused, unexpired reset `token` names, if any."""
    return PasswordReset.get_or_none(_usable(token))


def redeem_reset(token: str, new_password: str) -> User:
    """Use the link once: set the password, end every session, clear the email's throttle."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"At least {MIN_PASSWORD_LENGTH} characters.")
    new_hash = hash_password(new_password)  # slow: outside the write lock
    with write_transaction():
        # Marking it used in one conditional UPDATE: of two concurrent uses only one wins.
        if PasswordReset.update(used_at=utcnow()).where(_usable(token)).execute() != 1:
            raise InvalidInput("token", UNUSABLE)
        user = User.get_by_id(PasswordReset.get(PasswordReset.token_hash == hash_key(token)).user_id)
        User.update(password_hash=new_hash).where(User.id == user.id).execute()
        end_all_sessions(user.id)
        throttle.clear_email(user.email)
    return user


def mail_reset_link(email: str, public_url: str, mailer: Mailer) -> bool:
    """Mail a reset link if an active account uses `email`; True when one was sent.

    Runs off the request (the console starts it in a thread) so that the answer takes as long
    whether or not the account exists; it opens its own database connection.
    """
    with db.connection_context():
        user = User.get_or_none((User.email == email.strip().lower()) & (User.status == "active"))
        if user is None:
            return False
        issued = issue_reset(user.id)
    link = reset_link(public_url, issued.token)
    body = (
        "Someone asked to reset the password of your Tollgate account.\n\n"
        f"Choose a new password here (the link works once, for one hour):\n{link}\n\n"
        "If it was not you, ignore this mail; your password stays as it is.\n"
    )
    try:
        send_mail(mailer, user.email, "Reset your Tollgate password", body)
    except OSError as exc:  # smtplib's errors are OSErrors too
        log.warning("could not mail a password-reset link: %s", exc)
        return False
    return True
