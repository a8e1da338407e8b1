"""Who is signed in: the flask-login user wrapper, its loader, and the operator guard.

The session cookie names a server-side session (shared/sessions.py), so signing out, changing
the password or resetting it ends sessions for good, and a disabled user's sessions stop at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, request
from flask_login import UserMixin, current_user, login_required

from console.extensions import login_manager
from shared.models import User
from shared.sessions import session_user


class Account(UserMixin):
    """A signed-in user as flask-login sees it; `row` is the `users` row, `session` the cookie's value."""

    def __init__(self, row: User, session: str) -> None:
        self.row = row
        self.session = session

    def get_id(self) -> str:
        return self.session

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


@login_manager.user_loader
def load_account(value: str) -> Account | None:
    """The account a session cookie names, while that session lives and its user is active."""
    row = session_user(value)
    return None if row is None else Account(row, value)


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
