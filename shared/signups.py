"""Sign-ups as the operator's site options allow them: open, by invitation, or closed.

A new customer joins the options' default group and gets the welcome credit as a "bonus" ledger
entry in the same transaction as their account, so there is never an account without its credit
or a credit without its account.

An invitation is a one-time link for an account the operator created without a password (the
password-reset tokens of shared/password_resets.py): signing up with it chooses that account's
password.
"""

from __future__ import annotations

from shared.accounts import create_user
from shared.billing import post_entry
from shared.db import write_transaction
from shared.models import User
from shared.password_resets import redeem_reset, usable_reset
from shared.site import SiteOptions

CLOSED = "Sign-ups are closed. Ask the operator for an account."
INVITE_ONLY = "Sign-ups are by invitation only. Open the invite link the operator sent you."


class SignupsClosed(Exception):
    """The site takes no sign-up of this kind; the message says what to do instead."""


def invited(token: str) -> User | None:
    """The account an invite `token` opens: unused, unexpired, and with no password yet."""
    reset = usable_reset(token) if token else None
    if reset is None:
        return None
    user = User.get_by_id(reset.user_id)
    return user if user.password_hash is None else None


def sign_up(email: str, password: str, options: SiteOptions, invite: str = "") -> User:
    """Create (or, with an invitation, activate) a customer account as the options allow.

    Raises SignupsClosed when the mode refuses it and InvalidInput for a bad email or password.
    """
    if invite:  # the operator's invitation works whatever the mode
        return _accept_invite(invite, password, options)
    if options.signups == "closed":
        raise SignupsClosed(CLOSED)
    if options.signups == "invite":
        raise SignupsClosed(INVITE_ONLY)
    with write_transaction():
        user = create_user(email, password, group=options.default_group)
        _welcome(user, options)
    return user


def _accept_invite(token: str, password: str, options: SiteOptions) -> User:
    user = invited(token)
    if user is None:
        raise SignupsClosed(INVITE_ONLY)
    with write_transaction():
        redeem_reset(token, password)
        _welcome(user, options)
    return User.get_by_id(user.id)


def _welcome(user: User, options: SiteOptions) -> None:
    """Grant the welcome credit once per account (its ref is unique)."""
    if options.welcome_credit > 0:
        post_entry(user.id, options.welcome_credit, "bonus", f"welcome:{user.id}", reason="Welcome credit")
