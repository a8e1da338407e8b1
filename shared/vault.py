"""Encryption at rest for provider credentials, keyed by the deployment's secret key."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from shared.settings import Secret


class VaultError(ValueError):
    """A stored credential could not be decrypted (wrong TOLLGATE_SECRET_KEY?)."""


def _fernet(secret_key: Secret) -> Fernet:
    digest = hashlib.sha256(b"tollgate-vault:" + str(secret_key).encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str, secret_key: Secret) -> str:
    """Encrypt a credential; the empty string stays empty (no key configured)."""
    if not plaintext:
        return ""
    return _fernet(secret_key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str, secret_key: Secret) -> str:
    """Decrypt what `encrypt` produced."""
    if not token:
        return ""
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise VaultError("cannot decrypt a provider key: was TOLLGATE_SECRET_KEY changed?") from exc


def mask(plaintext: str) -> str:
    """Show a credential as its last four characters only."""
    return "…" + plaintext[-4:] if len(plaintext) > 8 else "…" * bool(plaintext)
