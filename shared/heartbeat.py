"""The worker's heartbeat: one row saying when the worker last ran, read by the data planes' status."""

from __future__ import annotations

import datetime as dt

from shared.models import KeyValue, utcnow

HEARTBEAT_KEY = "worker_heartbeat"
# The worker beats every 15 s; four missed beats mean it is gone, not just busy.
STALE_AFTER_S = 60.0


def record_heartbeat() -> dt.datetime:
    """Record that the worker is alive now (naive UTC, ISO 8601) and return the time."""
    now = utcnow()
    KeyValue.insert(key=HEARTBEAT_KEY, value=now.isoformat()).on_conflict(
        conflict_target=[KeyValue.key], update={KeyValue.value: now.isoformat()}
    ).execute()
    return now


def last_heartbeat() -> dt.datetime | None:
    """When the worker last reported itself alive (naive UTC), or None if it never ran."""
    row = KeyValue.get_or_none(KeyValue.key == HEARTBEAT_KEY)
    return dt.datetime.fromisoformat(row.value) if row else None


def worker_status(beat: dt.datetime | None, now: dt.datetime) -> dict[str, object]:
    """What /api/status says of the worker given its last beat: alive, and seconds since."""
    if beat is None:
        return {"alive": False, "last_seen_s_ago": None}
    ago = max(0.0, (now - beat).total_seconds())
    return {"alive": ago <= STALE_AFTER_S, "last_seen_s_ago": round(ago)}
