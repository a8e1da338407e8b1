"""Users, groups and API keys: the operations the console and the CLI share."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from peewee import IntegrityError

from shared.config_version import bump_config_version
from shared.db import db
from shared.errors import InvalidInput, NotFound
from shared.key_admin import check_rate_limits
from shared.keys import NewKey, generate_key
from shared.models import ApiKey, Group, User, utcnow
from shared.passwords import hash_password
from shared.platforms import DEFAULT_PLATFORM, check_platform

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("customer", "operator")
DEFAULT_GROUP = "default"
MIN_PASSWORD_LENGTH = 8


def normalize_email(email: str) -> str:
    """Lower-case and strip an email; raise InvalidInput if it does not look like one."""
    value = (email or "").strip().lower()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise InvalidInput("email", f"not a valid email address: {email!r}")
    return value


def get_or_create_group(name: str = DEFAULT_GROUP) -> Group:
    """The group called `name`, created with multiplier ×1 and no model limit if missing."""
    group = Group.get_or_none(Group.name == name)
    if group is None:
        group = Group.create(name=name)
    return group


def get_group(name: str) -> Group:
    """The group called `name` (the default group is created on demand)."""
    if name == DEFAULT_GROUP:
        return get_or_create_group(name)
    group = Group.get_or_none(Group.name == name)
    if group is None:
        raise NotFound("group", name)
    return group


def create_user(
    email: str, password: str | None = None, role: str = "customer", group: str = DEFAULT_GROUP
) -> User:
    """Create a user; raises InvalidInput for a bad or taken email, role or short password."""
    address = normalize_email(email)
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    with db.atomic():
        the_group = get_group(group)
        if User.select().where(User.email == address).exists():
            raise InvalidInput("email", f"{address} is already registered")
        try:
            return User.create(
                email=address,
                password_hash=hash_password(password) if password else None,
                role=role,
                group=the_group,
            )
        except IntegrityError as exc:
            raise InvalidInput("email", f"{address} is already registered") from exc


def get_user(email: str) -> User:
    """The user with this email, or NotFound."""
    user = User.get_or_none(User.email == (email or "").strip().lower())
    if user is None:
        raise NotFound("user", email)
    return user


def set_user_status(user: User, status: str) -> None:
    """Enable ("active") or disable ("disabled") a user; takes effect in the data plane within 2 s."""
    if status not in ("active", "disabled"):
        raise InvalidInput("status", "must be active or disabled")
    User.update(status=status).where(User.id == user.id).execute()
    bump_config_version()


def parse_model_list(text: str | Sequence[str] | None) -> list[str] | None:
    """ "a, b" or ["a", "b"] -> ["a", "b"]; empty -> None (no restriction)."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    models = [m.strip() for m in items if m and m.strip()]
    return models or None


def create_key(
    user: User,
    name: str = "",
    models: Sequence[str] | None = None,
    spend_cap: int | None = None,
    expires_at: dt.datetime | None = None,
    prefix: str = "sk-tg-",
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    platform: str = DEFAULT_PLATFORM,
) -> tuple[ApiKey, str]:
    """Create an API key for `user` on `platform`'s catalogue; returns the row and the secret
    (which is never stored)."""
    check_platform(platform)
    if spend_cap is not None and spend_cap <= 0:
        raise InvalidInput("spend_cap", "must be positive")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at", "must be in the future")
    if len(name) > 100:
        raise InvalidInput("name", "must be at most 100 characters")
    check_rate_limits(rpm_limit, tpm_limit)
    new: NewKey = generate_key(prefix)
    key = ApiKey.create(
        user=user,
        name=name.strip(),
        key_hash=new.key_hash,
        prefix=new.prefix,
        allowed_models=list(models) if models else None,
        spend_cap=spend_cap,
        expires_at=expires_at,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        platform=platform,
    )
    return key, new.secret


def owned_key(key_id: int, owner: User | None) -> ApiKey:
    """The key `key_id`, only if `owner` owns it (any key when owner is None); else NotFound."""
    query = ApiKey.select().where(ApiKey.id == key_id)
    if owner is not None:
        query = query.where(ApiKey.user == owner.id)
    key = query.first()
    if key is None:
        raise NotFound("key", key_id)
    return key


def revoke_key(key_id: int, owner: User | None = None) -> ApiKey:
    """Revoke a key (only the owner's when `owner` is given); effective within 2 s."""
    key = owned_key(key_id, owner)
    if key.revoked_at is None:
        ApiKey.update(revoked_at=utcnow()).where(ApiKey.id == key.id).execute()
        key.revoked_at = utcnow()
        bump_config_version()
    return key
