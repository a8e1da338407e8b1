"""The one-time token that lets the first operator be created from the browser.

On a fresh install with no operator, the console prints a token in its log; the setup page
asks for it. The token's hash is kept in the kv table (so every console worker accepts the same
token) and the token itself in var/ (so a restart prints the same one). Creating the first
operator deletes both.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from shared.accounts import create_user
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.keys import hash_key
from shared.models import KeyValue, User

KV_KEY = "setup_token_sha256"
FILE_NAME = "setup_token"


def has_operator() -> bool:
    """True once any operator exists."""
    return User.select().where(User.role == "operator").exists()


def ensure_setup_token(var_dir: Path) -> str | None:
    """The setup token to print, or None when an operator already exists."""
    if has_operator():
        return None
    path = var_dir / FILE_NAME
    stored = KeyValue.get_or_none(KeyValue.key == KV_KEY)
    if path.exists():
        token = path.read_text().strip()
        if stored is not None and hmac.compare_digest(stored.value, hash_key(token)):
            return token
    token = secrets.token_urlsafe(24)
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left from before keeps its mode through O_CREAT; the token is secret
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    KeyValue.insert(key=KV_KEY, value=hash_key(token)).on_conflict(
        conflict_target=[KeyValue.key], update={KeyValue.value: hash_key(token)}
    ).execute()
    return token


def setup_open() -> bool:
    """True while the setup page may be used: a token exists and no operator does."""
    return not has_operator() and KeyValue.select().where(KeyValue.key == KV_KEY).exists()


def create_first_operator(token: str, email: str, password: str, var_dir: Path) -> User:
    """Create the first operator if `token` is right; the token stops working afterwards."""
    with write_transaction():
        stored = KeyValue.get_or_none(KeyValue.key == KV_KEY)
        if has_operator() or stored is None:
            raise InvalidInput("token", "setup is already done; sign in instead")
        if not hmac.compare_digest(stored.value, hash_key(token.strip())):
            raise InvalidInput("token", "wrong setup token: copy it from the console's log")
        user = create_user(email, password, role="operator")
        KeyValue.delete().where(KeyValue.key == KV_KEY).execute()
    (var_dir / FILE_NAME).unlink(missing_ok=True)
    return user
