"""Who is signed in: the flask-login user wrapper, its loader, and the operator guard.

A session stores the user id plus a fingerprint of the password hash, so changing the password
signs out every other session, and a disabled user's sessions stop working at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, request
from flask_login import UserMixin, current_user, login_required

from console.extensions import login_manager
from shared.models import Group, User


class Account(UserMixin):
    """A signed-in user as flask-login sees it; `row` is the `users` row."""

    def __init__(self, row: User) -> None:
        self.row = row

    def get_id(self) -> str:
        return session_id(self.row)

    @property
    def is_active(self) -> bool:
        return self.row.status == "active"

    @property
    def is_operator(self) -> bool:
        return self.row.role == "operator"

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def email(self) -> str:
        return self.row.email


def session_id(user: User) -> str:
    """What the session cookie stores for `user`: its id and a fingerprint of its password."""
    fingerprint = hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()[:16]
    return f"{user.id}.{fingerprint}"


@login_manager.user_loader
def load_account(value: str) -> Account | None:
    """The account a session cookie names, if its password and status are unchanged."""
    user_id, _, _ = value.partition(".")
    if not user_id.isdigit():
        return None
    row = User.select(User, Group).join(Group).where(User.id == int(user_id)).first()
    if row is None or row.status != "active" or session_id(row) != value:
        return None
    return Account(row)


def me() -> User:
    """The signed-in user's row (only inside a login-required view)."""
    return current_user.row


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Allow operators only: anonymous users are sent to sign in, customers get 403."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    return guarded


def client_address() -> str:
    """The address a request came from (the WSGI server's view; proxies are configured there)."""
    return request.remote_addr or "unknown"
