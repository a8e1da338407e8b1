"""Changing an existing API key: name, expiry, allowed models and spend cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from shared.config_version import bump_config_version
from shared.errors import InvalidInput
from shared.models import ApiKey, utcnow


def update_key(
    key: ApiKey,
    name: str,
    models: Sequence[str] | None,
    spend_cap: int | None,
    expires_at: dt.datetime | None,
) -> ApiKey:
    """Save new settings for a key that is not revoked; effective in the data plane within 2 s."""
    if key.revoked_at is not None:
        raise InvalidInput("key", "a revoked key cannot be changed")
    if len(name.strip()) > 100:
        raise InvalidInput("name", "must be at most 100 characters")
    if spend_cap is not None and spend_cap <= 0:
        raise InvalidInput("spend_cap", "must be positive")
    if expires_at is not None and expires_at <= utcnow() and expires_at != key.expires_at:
        raise InvalidInput("expires_at", "must be in the future")
    ApiKey.update(
        name=name.strip(),
        allowed_models=list(models) if models else None,
        spend_cap=spend_cap,
        expires_at=expires_at,
    ).where(ApiKey.id == key.id).execute()
    bump_config_version()
    return ApiKey.get_by_id(key.id)


def rename_key(key: ApiKey, name: str) -> ApiKey:
    """Give a key a new name (names are labels; nothing else changes)."""
    if len(name.strip()) > 100:
        raise InvalidInput("name", "must be at most 100 characters")
    ApiKey.update(name=name.strip()).where(ApiKey.id == key.id).execute()
    return ApiKey.get_by_id(key.id)
