"""Changing an existing API key: name, expiry, allowed models, spend cap and rate limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from shared.config_version import bump_config_version
from shared.errors import InvalidInput
from shared.models import ApiKey, utcnow

MAX_RATE_LIMIT = 10**12


def check_rate_limits(rpm_limit: int | None, tpm_limit: int | None) -> None:
    """Requests and tokens per minute must be whole numbers from 1 (None: unlimited)."""
    for field, value in (("rpm_limit", rpm_limit), ("tpm_limit", tpm_limit)):
        if value is not None and not (isinstance(value, int) and 0 < value <= MAX_RATE_LIMIT):
            raise InvalidInput(field, f"must be a whole number from 1 to {MAX_RATE_LIMIT} (empty: no limit)")


def set_key_limits(key: ApiKey, rpm_limit: int | None, tpm_limit: int | None) -> ApiKey:
    """Set a key's requests and tokens per minute (None: unlimited); effective within 2 s."""
    check_rate_limits(rpm_limit, tpm_limit)
    ApiKey.update(rpm_limit=rpm_limit, tpm_limit=tpm_limit).where(ApiKey.id == key.id).execute()
    bump_config_version()
    return ApiKey.get_by_id(key.id)


def update_key(
    key: ApiKey,
    name: str,
    models: Sequence[str] | None,
    spend_cap: int | None,
    expires_at: dt.datetime | None,
    *,
    rpm_limit: int | None,
    tpm_limit: int | None,
) -> ApiKey:
    """Save new settings for a key that is not revoked; effective in the data plane within 2 s.

    Every setting is replaced, rate limits included (None: unlimited), so callers pass them all.
    """
    if key.revoked_at is not None:
        raise InvalidInput("key", "a revoked key cannot be changed")
    if len(name.strip()) > 100:
        raise InvalidInput("name", "must be at most 100 characters")
    if spend_cap is not None and spend_cap <= 0:
        raise InvalidInput("spend_cap", "must be positive")
    if expires_at is not None and expires_at <= utcnow() and expires_at != key.expires_at:
        raise InvalidInput("expires_at", "must be in the future")
    check_rate_limits(rpm_limit, tpm_limit)
    ApiKey.update(
        name=name.strip(),
        allowed_models=list(models) if models else None,
        spend_cap=spend_cap,
        expires_at=expires_at,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
    ).where(ApiKey.id == key.id).execute()
    bump_config_version()
    return ApiKey.get_by_id(key.id)


def rename_key(key: ApiKey, name: str) -> ApiKey:
    """Give a key a new name (names are labels; nothing else changes)."""
    if len(name.strip()) > 100:
        raise InvalidInput("name", "must be at most 100 characters")
    ApiKey.update(name=name.strip()).where(ApiKey.id == key.id).execute()
    return ApiKey.get_by_id(key.id)
