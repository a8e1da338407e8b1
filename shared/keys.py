"""API key secrets: how they are made, hashed and shown."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: the secret (shown once), its hash (stored) and a display prefix."""

    secret: str
    key_hash: str
    prefix: str


def hash_key(secret: str) -> str:
    """SHA-256 hex of a random secret: an API key, a console session or a reset or setup token.

    Every such secret carries at least 256 bits of randomness, so no salt or slow hash is needed.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def generate_key(prefix: str = "sk-tg-") -> NewKey:
    """Make a new random key with the configured prefix."""
    secret = prefix + secrets.token_urlsafe(32)
    return NewKey(secret=secret, key_hash=hash_key(secret), prefix=secret[: len(prefix) + 4] + "…")
