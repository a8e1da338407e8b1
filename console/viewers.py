"""Whose prices and models a page shows: the signed-in customer's group, or the default group."""

from __future__ import annotations

from flask_login import current_user

from shared.accounts import DEFAULT_GROUP
from shared.models import Group


def viewer_group() -> Group | None:
    """The signed-in customer's group, or the default group for visitors (None if not made yet)."""
    if current_user.is_authenticated:
        return current_user.row.group
    return Group.get_or_none(Group.name == DEFAULT_GROUP)
