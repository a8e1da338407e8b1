"""A counter that tells the data planes to reload their in-memory caches.

Every change to keys, users, providers, models or routes bumps it; each data-plane process
polls it about once a second and reloads what it caches when it moves.
"""

from __future__ import annotations

from shared.db import write_transaction
from shared.models import KeyValue

KEY = "config_version"


def read_config_version() -> int:
    """The current version (0 before the first change)."""
    row = KeyValue.get_or_none(KeyValue.key == KEY)
    return int(row.value) if row else 0


def bump_config_version() -> int:
    """Increment the version and return the new value."""
    with write_transaction():
        current = read_config_version() + 1
        KeyValue.insert(key=KEY, value=str(current)).on_conflict(
            conflict_target=[KeyValue.key], update={KeyValue.value: str(current)}
        ).execute()
    return current
