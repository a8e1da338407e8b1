"""Customer groups as operators manage them: name, price multiplier, allowed models, rate limits."""

from __future__ import annotations

from collections.abc import Sequence

from peewee import JOIN, Query, fn

from shared.catalog import NAME_RE
from shared.config_version import bump_config_version
from shared.errors import InvalidInput, NotFound
from shared.key_admin import check_rate_limits
from shared.models import Group, User

MAX_MULTIPLIER_PPM = 100_000_000  # ×100


def groups_query() -> Query:
    """Every group with its member count (one query)."""
    return (
        Group.select(Group, fn.COUNT(User.id).alias("members"))
        .join(User, on=(User.group == Group.id), join_type=JOIN.LEFT_OUTER)
        .group_by(Group.id)
        .order_by(Group.name)
    )


def group_by_id(group_id: int) -> Group:
    """The group with this id, or NotFound."""
    group = Group.get_or_none(Group.id == group_id)
    if group is None:
        raise NotFound("group", group_id)
    return group


def _check(name: str, multiplier_ppm: int, exclude_id: int | None) -> None:
    if not NAME_RE.match(name or ""):
        raise InvalidInput("name", "use letters, digits, '.', '_' or '-' (at most 64)")
    if not 0 < multiplier_ppm <= MAX_MULTIPLIER_PPM:
        raise InvalidInput("multiplier", "must be above 0 and at most 100")
    query = Group.select().where(Group.name == name)
    if exclude_id is not None:
        query = query.where(Group.id != exclude_id)
    if query.exists():
        raise InvalidInput("name", f"a group called {name} already exists")


def save_group(
    group: Group | None,
    name: str,
    multiplier_ppm: int,
    allowed_models: Sequence[str] | None,
    *,
    rpm_limit: int | None,
    tpm_limit: int | None,
) -> Group:
    """Create a group (`group` None) or change one; `allowed_models` None allows every model.

    `rpm_limit` / `tpm_limit` limit each member user (all its keys together) per minute; None: unlimited.
    """
    name = (name or "").strip()
    _check(name, multiplier_ppm, group.id if group else None)
    check_rate_limits(rpm_limit, tpm_limit)
    values = dict(
        name=name,
        multiplier_ppm=multiplier_ppm,
        allowed_models=allowed_models or None,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
    )
    if group is None:
        group = Group.create(**values)
    else:
        Group.update(**values).where(Group.id == group.id).execute()
    bump_config_version()
    return group_by_id(group.id)


def set_user_group(user: User, group: Group) -> None:
    """Move a user into another group (its prices and model list apply within 2 s)."""
    User.update(group=group.id).where(User.id == user.id).execute()
    bump_config_version()
